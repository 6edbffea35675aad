"""The dependency graph between checks, as pure functions of (graph, states, now).

A check may name parents it needs:

- `depends_on = ["router-a", "core-switch"]`: every one is a path the check needs; if ANY of
  them is down, the check is unreachable.
- `depends_on_any = ["wan-1", "wan-2"]`: redundant paths; the check is unreachable only when
  ALL of them are down.

A parent is *down* when its hard status is `critical` or `unreachable` (a warning or an unknown
does not cut the path). A failing check whose parents are down is *unreachable*: it opens no
incident of its own; the parents' incident (the root cause) lists it as affected. When a
parent is failing but not yet confirmed (soft), or its last result is too old to trust, the
verdict is *undecided*: the caller holds the child's failure back and probes the parent now.

Nothing here reads a clock or the store: states and `now` are passed in.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from escalatord.core.state import CheckState
from escalatord.core.status import Status

DOWN = frozenset({Status.CRITICAL, Status.UNREACHABLE})


class Reach(StrEnum):
    REACHABLE = "reachable"
    UNREACHABLE = "unreachable"
    UNDECIDED = "undecided"


@dataclass(frozen=True)
class Verdict:
    """Whether a check's failure is its own. `down` names the parents that are down (when
    unreachable); `waiting_on` the parents still to be confirmed one way or the other."""

    reach: Reach
    down: tuple[str, ...] = ()
    waiting_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class Graph:
    """Parents of each check (`all_of`: every one needed; `any_of`: one is enough) and the
    reverse index. Build it with `graph()`; names not in the graph have no parents."""

    all_of: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    any_of: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    dependants: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def parents(self, name: str) -> tuple[str, ...]:
        return (*self.all_of.get(name, ()), *self.any_of.get(name, ()))

    def has_parents(self, name: str) -> bool:
        return bool(self.all_of.get(name) or self.any_of.get(name))


def graph(edges: Iterable[tuple[str, Iterable[str], Iterable[str]]]) -> Graph:
    """A Graph from (check, depends_on, depends_on_any) triples. Parents that are not checks
    themselves (disabled or removed) are dropped: a path nobody watches cannot be down."""
    rows = [(name, tuple(all_of), tuple(any_of)) for name, all_of, any_of in edges]
    known = {name for name, _, _ in rows}
    all_map: dict[str, tuple[str, ...]] = {}
    any_map: dict[str, tuple[str, ...]] = {}
    reverse: dict[str, list[str]] = {}
    for name, all_of, any_of in rows:
        if not all_of and not any_of:
            continue  # most checks: nothing to keep, nothing to reverse
        all_keep = tuple(p for p in dict.fromkeys(all_of) if p in known and p != name)
        any_keep = tuple(p for p in dict.fromkeys(any_of) if p in known and p != name)
        if all_keep:
            all_map[name] = all_keep
        if any_keep:
            any_map[name] = any_keep
        for parent in dict.fromkeys((*all_keep, *any_keep)):
            reverse.setdefault(parent, []).append(name)
    return Graph(all_map, any_map, {p: tuple(c) for p, c in reverse.items()})


def is_down(state: CheckState | None) -> bool:
    """A parent whose hard status is critical or unreachable (even while leaning back to ok)."""
    return state is not None and state.status in DOWN


def _condition(
    state: CheckState | None, now: datetime, fresh_within: timedelta, current: bool
) -> str:
    """down | up | pending (failing, not confirmed) | stale (no result recent enough).
    `current`: the parent's state is current by construction (a passive check: heartbeats,
    traps), so its age says nothing and probing it again would not give a newer one."""
    if is_down(state):
        return "down"
    if state is not None and not state.hard and state.pending in DOWN:
        return "pending"
    if current:
        return "up"
    if state is None or state.last_check_at is None:
        return "stale"
    if state.last_check_at < now - fresh_within:
        return "stale"
    return "up"


def verdict(
    name: str,
    g: Graph,
    states: Mapping[str, CheckState],
    now: datetime,
    fresh_within: timedelta,
    current: Collection[str] = (),
) -> Verdict:
    """Is a failure of `name` its own? `fresh_within`: how recent a parent's last result must
    be to count as up (older, and the parent must be probed again before deciding); parents in
    `current` (passive checks) count as up whatever the age of their last result."""
    if not g.has_parents(name):
        return Verdict(Reach.REACHABLE)
    cond = {p: _condition(states.get(p), now, fresh_within, p in current) for p in g.parents(name)}
    required = g.all_of.get(name, ())
    redundant = g.any_of.get(name, ())
    down = [p for p in required if cond[p] == "down"]
    if redundant and all(cond[p] == "down" for p in redundant):
        down.extend(redundant)
    if down:
        return Verdict(Reach.UNREACHABLE, down=tuple(down))
    waiting = [p for p in required if cond[p] in ("pending", "stale")]
    # Redundant paths: one confirmed up is enough; otherwise wait for the unconfirmed ones.
    if redundant and not any(cond[p] == "up" for p in redundant):
        waiting.extend(p for p in redundant if cond[p] in ("pending", "stale"))
    if waiting:
        return Verdict(Reach.UNDECIDED, waiting_on=tuple(waiting))
    return Verdict(Reach.REACHABLE)


def root_causes(name: str, g: Graph, states: Mapping[str, CheckState]) -> tuple[str, ...]:
    """The down ancestors of `name` that are down themselves, not unreachable: the checks whose
    incidents are the root cause. Follows down parents only; sorted, each once."""
    found: set[str] = set()
    seen: set[str] = set()
    stack = [p for p in g.parents(name) if is_down(states.get(p))]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        state = states.get(node)
        if state is None:
            continue
        if state.status is Status.UNREACHABLE:
            stack.extend(p for p in g.parents(node) if is_down(states.get(p)))
        else:
            found.add(node)
    return tuple(sorted(found))


def descendants(name: str, g: Graph) -> tuple[str, ...]:
    """Every check below `name`, nearest first (breadth first), each once."""
    out: list[str] = []
    seen = {name}
    frontier = [name]
    while frontier:
        nxt: list[str] = []
        for node in frontier:
            for child in g.dependants.get(node, ()):
                if child not in seen:
                    seen.add(child)
                    out.append(child)
                    nxt.append(child)
        frontier = nxt
    return tuple(out)


def failing(state: CheckState | None) -> bool:
    """A check whose newest result is a problem but that has no confirmed problem of its own:
    soft-failing, or held back waiting for its parents."""
    return (
        state is not None
        and state.status is Status.OK
        and state.last_status is not None
        and state.last_status.is_problem
    )


def cascade(
    parent: str,
    g: Graph,
    states: Mapping[str, CheckState],
    now: datetime,
    fresh_within: timedelta,
) -> tuple[str, ...]:
    """Dependants that become unreachable now that `parent` is down: those below it that are
    failing without a confirmed problem of their own and whose verdict (with the ones found
    before them counted as unreachable) is unreachable. Nearest first."""
    view = dict(states)
    out: list[str] = []
    for child in descendants(parent, g):
        state = view.get(child)
        if not failing(state):
            continue
        if verdict(child, g, view, now, fresh_within).reach is Reach.UNREACHABLE:
            assert state is not None
            view[child] = CheckState(
                status=Status.UNREACHABLE,
                since=now,
                last_status=state.last_status,
                last_summary=state.last_summary,
                last_check_at=state.last_check_at,
            )
            out.append(child)
    return tuple(out)


def affected(root: str, g: Graph, states: Mapping[str, CheckState]) -> tuple[str, ...]:
    """Checks below `root` that are unreachable because of it (it is among their root causes)."""
    return tuple(
        sorted(
            child
            for child in descendants(root, g)
            if (s := states.get(child)) is not None
            and s.status is Status.UNREACHABLE
            and root in root_causes(child, g, states)
        )
    )


def find_cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Cycles found by depth-first search, each once, rotated to start at its earliest node.

    Iterative, so a long dependency chain cannot hit the recursion limit.
    """
    order = {node: i for i, node in enumerate(graph)}
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    found: list[list[str]] = []
    for root in graph:
        if root in state:
            continue
        path, stack = [root], [iter(graph[root])]
        state[root] = 1
        while stack:
            node = next(stack[-1], None)
            if node is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(node) == 1:
                cycle = path[path.index(node) :]
                start = min(range(len(cycle)), key=lambda i: order[cycle[i]])
                if (cycle := cycle[start:] + cycle[:start]) not in found:
                    found.append(cycle)
            elif node not in state:
                state[node] = 1
                path.append(node)
                stack.append(iter(graph[node]))
    return found
