"""Quiet times (core/quiet.py): one-off, cron and DST window matching, silences, children."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from escalatord.core import topology
from escalatord.core.quiet import Cover, QuietTimes, Silence, Window, ancestors

NY = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone).astimezone(UTC)


def patch_night(**kw: object) -> Window:
    return Window(
        "patch", Cover(match={"site": "boston"}), NY, schedule="0 22 * * sat",
        duration=timedelta(hours=4), **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_one_off_window_is_in_force_from_start_until_end_excluded() -> None:
    """A one-off window covers [start, end) and says it ends at `end`."""
    w = Window("x", Cover(checks=("a",)), start=utc(2026, 12, 24, 18), end=utc(2026, 12, 25, 2))
    assert w.until(utc(2026, 12, 24, 17, 59)) is None
    assert w.until(utc(2026, 12, 24, 18)) == utc(2026, 12, 25, 2)
    assert w.until(utc(2026, 12, 25, 1, 59)) == utc(2026, 12, 25, 2)
    assert w.until(utc(2026, 12, 25, 2)) is None


def test_cron_window_covers_each_occurrence_in_its_zone() -> None:
    """Saturdays 22:00 New York time for 4h: in force 22:00-02:00 local, not before or after."""
    w = patch_night()
    start = local(NY, 2026, 12, 5, 22, 0)
    assert w.until(start - timedelta(seconds=1)) is None
    assert w.until(start) == start + timedelta(hours=4)
    assert w.until(start + timedelta(hours=3, minutes=59)) == start + timedelta(hours=4)
    assert w.until(start + timedelta(hours=4)) is None
    assert w.until(local(NY, 2026, 12, 9, 23, 0)) is None  # a Wednesday


def test_cron_window_lasts_its_elapsed_duration_across_fall_back() -> None:
    """A 4h window opening 22:00 the night clocks fall back ends at 01:00 local (4h later)."""
    w = patch_night()
    start = local(NY, 2026, 10, 31, 22, 0)  # Saturday; 02:00 EDT becomes 01:00 EST
    assert w.until(start + timedelta(hours=1)) == start + timedelta(hours=4)
    end = (start + timedelta(hours=4)).astimezone(NY)
    assert (end.hour, end.minute) == (1, 0)


def test_cron_start_skipped_by_spring_forward_happens_after_the_jump() -> None:
    """02:30 does not exist on Paris's spring-forward night: the window opens at 03:00 CEST."""
    w = Window("n", Cover(checks=("a",)), PARIS, schedule="30 2 * * *", duration=timedelta(hours=1))
    jump = local(PARIS, 2026, 3, 29, 3, 0)
    assert w.until(jump - timedelta(minutes=1)) is None
    assert w.until(jump) == jump + timedelta(hours=1)


def test_cron_start_in_the_repeated_hour_happens_once() -> None:
    """01:30 happens twice when New York falls back; the window opens at the first only."""
    w = Window("n", Cover(checks=("a",)), NY, schedule="30 1 * * *", duration=timedelta(minutes=20))
    first = datetime(2026, 11, 1, 1, 30, tzinfo=NY).astimezone(UTC)  # EDT, fold 0
    assert w.until(first + timedelta(minutes=10)) == first + timedelta(minutes=20)
    assert w.until(first + timedelta(hours=1, minutes=10)) is None  # 01:40 EST


def test_overlapping_occurrences_make_one_quiet_time() -> None:
    """Hourly starts lasting 90 minutes chain: `until` is the end of the last one."""
    w = Window("h", Cover(checks=("a",)), UTC, schedule="0 * * * *", duration=timedelta(minutes=90))
    # Every occurrence overlaps the next, so the chain runs as far as the look-ahead allows.
    assert w.until(utc(2026, 1, 1, 0, 10)) is not None
    assert w.until(utc(2026, 1, 1, 0, 10)) > utc(2026, 1, 1, 10)  # type: ignore[operator]


def test_edges_list_starts_and_ends_in_order() -> None:
    """Edges of a weekly window over two weeks: start, end, start, end."""
    w = patch_night()
    found = w.edges(utc(2026, 12, 1), utc(2026, 12, 14))
    assert [edge for _, edge in found] == ["start", "end", "start", "end"]
    assert found[0][0] == local(NY, 2026, 12, 5, 22, 0)


def test_edges_include_the_end_of_an_occurrence_already_running() -> None:
    """Asked mid-window, the edges begin with its end."""
    w = patch_night()
    start = local(NY, 2026, 12, 5, 22, 0)
    assert w.edges(start + timedelta(hours=1), start + timedelta(hours=5)) == [
        (start + timedelta(hours=4), "end")
    ]


def test_cover_reads_matchers_as_rules_do() -> None:
    """match (exact or alternatives), match_re on whole values, the label "check", checks."""
    assert Cover(match={"site": ("boston", "nyc")}).covers("a", {"site": "nyc"})
    assert not Cover(match={"site": "boston"}).covers("a", {})
    assert Cover(match_re={"check": "rtr-.*"}).covers("rtr-1", {})
    assert not Cover(match_re={"site": "bos"}).covers("a", {"site": "boston"})
    assert Cover(checks=("a",)).covers("a", {})
    assert not Cover().covers("a", {"site": "x"})


def test_silence_in_force_only_between_its_start_and_end() -> None:
    """A silence is quiet from start until end; the answer names it and its end."""
    s = Silence(3, Cover(match={"site": "boston"}), utc(2026, 1, 1, 10), utc(2026, 1, 1, 12))
    quiet = QuietTimes(silences=[s])
    assert quiet.of("a", {"site": "boston"}, utc(2026, 1, 1, 9)) is None
    found = quiet.of("a", {"site": "boston"}, utc(2026, 1, 1, 11))
    assert found is not None and found.why == ("silence 3",) and found.until == utc(2026, 1, 1, 12)
    assert quiet.of("a", {"site": "nyc"}, utc(2026, 1, 1, 11)) is None
    assert quiet.of("a", {"site": "boston"}, utc(2026, 1, 1, 12)) is None


def test_several_covers_name_each_and_the_latest_end() -> None:
    """A window and a silence together: both named, quiet until the later end."""
    w = Window("x", Cover(checks=("a",)), start=utc(2026, 1, 1, 10), end=utc(2026, 1, 1, 11))
    s = Silence(7, Cover(checks=("a",)), utc(2026, 1, 1, 10), utc(2026, 1, 1, 13))
    found = QuietTimes(windows=[w], silences=[s]).of("a", {}, utc(2026, 1, 1, 10, 30))
    assert found is not None
    assert found.why == ("maintenance x", "silence 7") and found.until == utc(2026, 1, 1, 13)


GRAPH = topology.graph(
    [
        ("router", [], []),
        ("switch", ["router"], []),
        ("server", ["switch"], []),
        ("wan-1", [], []),
        ("wan-2", [], []),
        ("office", [], ["wan-1", "wan-2"]),
        ("elsewhere", [], []),
    ]
)
LABELS = {"router": {"site": "boston"}}


def test_children_put_dependants_in_maintenance_transitively() -> None:
    """children = true covers the router's switch and the server behind the switch."""
    w = Window("r", Cover(match={"site": "boston"}), start=utc(2026, 1, 1), end=utc(2026, 1, 2),
               children=True)  # fmt: skip
    quiet = QuietTimes(windows=[w], graph=GRAPH, labels_of=LABELS.get)
    at = utc(2026, 1, 1, 12)
    assert all(quiet.of(name, {}, at) for name in ("switch", "server"))
    assert quiet.of("router", LABELS["router"], at) is not None
    assert quiet.of("elsewhere", {}, at) is None


def test_without_children_dependants_are_not_covered() -> None:
    """children = false (the default): only the matched check is quiet."""
    w = Window("r", Cover(checks=("router",)), start=utc(2026, 1, 1), end=utc(2026, 1, 2))
    quiet = QuietTimes(windows=[w], graph=GRAPH, labels_of=LABELS.get)
    assert quiet.of("switch", {}, utc(2026, 1, 1, 12)) is None


def test_children_follow_depends_on_any_too() -> None:
    """A dependant through redundant paths is covered when a window covers one path."""
    w = Window("w", Cover(checks=("wan-1",)), start=utc(2026, 1, 1), end=utc(2026, 1, 2),
               children=True)  # fmt: skip
    assert QuietTimes(windows=[w], graph=GRAPH).of("office", {}, utc(2026, 1, 1, 1)) is not None


def test_ancestors_are_transitive_and_finite() -> None:
    """ancestors() walks every parent once, nearest first."""
    assert ancestors(GRAPH, "server") == ["switch", "router"]
    assert ancestors(GRAPH, "office") == ["wan-1", "wan-2"]
    assert ancestors(GRAPH, "router") == []
