"""Pure dependency logic (core/topology.py) on chains, diamonds and redundant parents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from escalatord.core import topology
from escalatord.core.state import CheckState
from escalatord.core.status import Status
from escalatord.core.topology import Reach

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
FRESH = timedelta(seconds=30)


def up(age: float = 1.0) -> CheckState:
    return CheckState(
        status=Status.OK, last_status=Status.OK, last_check_at=NOW - timedelta(seconds=age)
    )


def down(status: Status = Status.CRITICAL) -> CheckState:
    return CheckState(status=status, last_status=Status.CRITICAL, last_check_at=NOW)


def pending() -> CheckState:
    """Failing, not yet confirmed (soft)."""
    return CheckState(
        status=Status.OK,
        hard=False,
        attempts=1,
        pending=Status.CRITICAL,
        last_status=Status.CRITICAL,
        last_check_at=NOW,
    )


CHAIN = topology.graph([("core", [], []), ("wan", ["core"], []), ("host", ["wan"], [])])
REDUNDANT = topology.graph(
    [("wan-1", [], []), ("wan-2", [], []), ("office", [], ["wan-1", "wan-2"])]
)
# router -> (sw-a, sw-b) -> server: a diamond with the server needing both switches.
DIAMOND = topology.graph(
    [("router", [], []), ("sw-a", ["router"], []), ("sw-b", ["router"], []),
     ("server", ["sw-a", "sw-b"], [])]
)  # fmt: skip


def test_no_parents_is_always_reachable() -> None:
    """A check without parents owns its failures."""
    assert topology.verdict("core", CHAIN, {}, NOW, FRESH).reach is Reach.REACHABLE


def test_down_parent_makes_child_unreachable() -> None:
    """A child whose parent is hard critical is unreachable, naming that parent."""
    v = topology.verdict("wan", CHAIN, {"core": down()}, NOW, FRESH)
    assert v.reach is Reach.UNREACHABLE and v.down == ("core",)


def test_unreachable_parent_propagates_down_a_chain() -> None:
    """A grandchild behind an unreachable parent is unreachable too, and the root cause is the
    grandparent that is actually down."""
    states = {"core": down(), "wan": down(Status.UNREACHABLE)}
    assert topology.verdict("host", CHAIN, states, NOW, FRESH).reach is Reach.UNREACHABLE
    assert topology.root_causes("host", CHAIN, states) == ("core",)


def test_warning_or_unknown_parent_does_not_cut_the_path() -> None:
    """Only critical (or unreachable) parents count as down: a slow router still routes."""
    for status in (Status.WARNING, Status.UNKNOWN):
        states = {"core": CheckState(status=status, last_status=status, last_check_at=NOW)}
        assert topology.verdict("wan", CHAIN, states, NOW, FRESH).reach is Reach.REACHABLE


def test_failing_but_unconfirmed_parent_is_undecided() -> None:
    """While the parent is soft-failing, the child's own failure cannot be judged yet."""
    v = topology.verdict("wan", CHAIN, {"core": pending()}, NOW, FRESH)
    assert v.reach is Reach.UNDECIDED and v.waiting_on == ("core",)


def test_stale_or_never_checked_parent_is_undecided() -> None:
    """A parent whose last ok is older than the window (or which never ran) must be probed
    again before the child's failure counts as its own."""
    assert topology.verdict("wan", CHAIN, {"core": up(age=31)}, NOW, FRESH).reach is Reach.UNDECIDED
    assert topology.verdict("wan", CHAIN, {}, NOW, FRESH).reach is Reach.UNDECIDED
    assert topology.verdict("wan", CHAIN, {"core": up(age=29)}, NOW, FRESH).reach is Reach.REACHABLE


def test_redundant_parents_need_all_down() -> None:
    """With depends_on_any, one path down leaves the office reachable; both down cut it off."""
    one = {"wan-1": down(), "wan-2": up()}
    both = {"wan-1": down(), "wan-2": down()}
    assert topology.verdict("office", REDUNDANT, one, NOW, FRESH).reach is Reach.REACHABLE
    v = topology.verdict("office", REDUNDANT, both, NOW, FRESH)
    assert v.reach is Reach.UNREACHABLE and set(v.down) == {"wan-1", "wan-2"}


def test_redundant_parents_one_down_one_pending_is_undecided() -> None:
    """One path down and the other failing unconfirmed: wait for the second path."""
    v = topology.verdict("office", REDUNDANT, {"wan-1": down(), "wan-2": pending()}, NOW, FRESH)
    assert v.reach is Reach.UNDECIDED and v.waiting_on == ("wan-2",)


def test_diamond_either_required_switch_down_cuts_the_server() -> None:
    """depends_on lists paths that are all needed: one switch down is enough."""
    states = {"router": up(), "sw-a": down(), "sw-b": up()}
    v = topology.verdict("server", DIAMOND, states, NOW, FRESH)
    assert v.reach is Reach.UNREACHABLE and v.down == ("sw-a",)


def test_diamond_root_cause_is_reported_once() -> None:
    """Both switches unreachable behind a down router: the server's one root cause is the
    router."""
    states = {
        "router": down(),
        "sw-a": down(Status.UNREACHABLE),
        "sw-b": down(Status.UNREACHABLE),
        "server": down(Status.UNREACHABLE),
    }
    assert topology.root_causes("server", DIAMOND, states) == ("router",)
    assert topology.affected("router", DIAMOND, states) == ("server", "sw-a", "sw-b")


def test_cascade_marks_failing_dependants_nearest_first() -> None:
    """When the core goes down, the soft-failing WAN and the host behind it become unreachable;
    a healthy dependant is left alone until it fails itself."""
    g = topology.graph(
        [("core", [], []), ("wan", ["core"], []), ("host", ["wan"], []), ("ok", ["core"], [])]
    )
    states = {"core": down(), "wan": pending(), "host": pending(), "ok": up()}
    assert topology.cascade("core", g, states, NOW, FRESH) == ("wan", "host")


def test_cascade_leaves_children_with_their_own_confirmed_problem() -> None:
    """A dependant that is already hard critical (with its own incident) is not rewritten."""
    states = {"core": down(), "wan": down()}
    assert topology.cascade("core", CHAIN, states, NOW, FRESH) == ()


def test_graph_drops_unknown_and_self_parents() -> None:
    """Parents that are not (enabled) checks cannot be down and are ignored."""
    g = topology.graph([("a", ["a", "gone"], ["b", "gone"]), ("b", [], [])])
    assert g.parents("a") == ("b",)
    assert g.dependants == {"b": ("a",)}


def test_descendants_breadth_first_each_once() -> None:
    """A diamond's bottom is listed once, after the middle."""
    assert topology.descendants("router", DIAMOND) == ("sw-a", "sw-b", "server")


@given(st.lists(st.sampled_from(["up", "down", "pending", "stale"]), min_size=2, max_size=2))
def test_redundant_verdict_matches_its_definition(conds: list[str]) -> None:
    """depends_on_any: unreachable iff all down; reachable iff one is fresh and up."""
    make = {"up": up, "down": down, "pending": pending, "stale": lambda: up(age=60)}
    states = {"wan-1": make[conds[0]](), "wan-2": make[conds[1]]()}
    reach = topology.verdict("office", REDUNDANT, states, NOW, FRESH).reach
    if all(c == "down" for c in conds):
        assert reach is Reach.UNREACHABLE
    elif "up" in conds:
        assert reach is Reach.REACHABLE
    else:
        assert reach is Reach.UNDECIDED
