"""Dependencies for the running monitor: the graph from config, and the held-back failures.

The decisions are core/topology.py's pure functions; this class keeps what they need
between results (the graph, the check settings, when each failure was first held back) and
turns their answers into what the Monitor does: mark a result unreachable, hold a failure back
and probe the parent at once, mark held dependants unreachable when the parent goes down, and
re-run dependants when the parent's state is known.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, timedelta

import structlog

from escalatord.checks.base import CheckConfig
from escalatord.core import topology
from escalatord.core.state import CheckState, Transition
from escalatord.core.status import Status
from escalatord.core.topology import DOWN, Reach, Verdict

log = structlog.get_logger("escalatord.monitor")


class Dependencies:
    def __init__(self, configs: Iterable[CheckConfig], passive: Collection[str] = ()):
        self._held: dict[str, datetime] = {}  # check -> when its failure was first held back
        self.set_checks(configs, passive)

    def set_checks(self, configs: Iterable[CheckConfig], passive: Collection[str] = ()) -> None:
        """Rebuild the graph from the enabled checks (start and reload). `passive`: checks
        that are not probed (heartbeats, traps): their state is always current."""
        self.passive = frozenset(passive)
        self.configs = {c.name: c for c in configs if c.enabled}
        self.graph = topology.graph(
            (c.name, c.depends_on, c.depends_on_any) for c in self.configs.values()
        )
        self._held = {n: t for n, t in self._held.items() if self.graph.has_parents(n)}

    def fresh_within(self, name: str) -> timedelta:
        """How recent a parent's result must be to vouch for it while `name` fails: since about
        when the child's failure began (its retries), plus one probe's time."""
        c = self.configs[name]
        return max((c.retries - 1) * c.retry_interval, c.retry_interval) + c.timeout

    def judge(
        self, name: str, status: Status, states: Mapping[str, CheckState], now: datetime
    ) -> Verdict | None:
        """The topology verdict for a problem result of a check with parents; None otherwise."""
        if not status.is_problem or not self.graph.has_parents(name) or name not in self.configs:
            return None
        return topology.verdict(
            name, self.graph, states, now, self.fresh_within(name), self.passive
        )

    def should_hold(
        self, name: str, tr: Transition, verdict: Verdict | None, now: datetime
    ) -> bool:
        """Hold back a new failure (from ok) while a parent is undecided, for at most as long as
        the parents need to confirm either way; past that it goes through, with a warning."""
        if verdict is None or verdict.reach is not Reach.UNDECIDED:
            return False
        if tr.previous is not Status.OK or tr.current is Status.UNREACHABLE:
            return False
        first = self._held.setdefault(name, now)
        if now - first <= self._hold_limit(name, verdict.waiting_on):
            return True
        log.warning(
            "dependency_undecided",
            check=name,
            parents=list(verdict.waiting_on),
            hint="the parents gave no confirmed result in time; the failure is raised as its own",
        )
        self.release(name)
        return False

    def _hold_limit(self, name: str, parents: Iterable[str]) -> timedelta:
        child = self.configs[name]
        longest = timedelta(0)
        for p in parents:
            c = self.configs.get(p)
            if c is not None:
                longest = max(longest, max(c.interval, c.retries * c.retry_interval) + c.timeout)
        return longest + child.retry_interval

    def release(self, name: str) -> None:
        self._held.pop(name, None)

    @property
    def held(self) -> frozenset[str]:
        return frozenset(self._held)

    def to_probe(
        self, verdict: Verdict, states: Mapping[str, CheckState], now: datetime
    ) -> list[str]:
        """Parents to probe at once: those with no recent result (a failing parent is already
        on its retry schedule; probing it more would confirm it faster than its retries say)."""
        out = []
        for p in verdict.waiting_on:
            state = states.get(p)
            failing = state is not None and not state.hard and state.pending in DOWN
            if not failing:
                out.append(p)
        return out

    def to_rerun(
        self, name: str, tr: Transition | None, states: Mapping[str, CheckState]
    ) -> list[str]:
        """Dependants to run now after a result of `name`: held ones once `name` is confirmed
        up or down; unreachable ones when `name` stops being down (recovers, or only warns):
        those still failing then get incidents of their own."""
        dependants = self.graph.dependants.get(name, ())
        if not dependants:
            return []
        state = states.get(name)
        decided = state is not None and (topology.is_down(state) or state.pending is None)
        out = [d for d in dependants if decided and d in self._held]
        if tr is not None and tr.current not in DOWN:
            out += [
                d
                for d in dependants
                if (s := states.get(d)) is not None and s.status is Status.UNREACHABLE
            ]
        return out

    def cascade(
        self, name: str, tr: Transition, states: Mapping[str, CheckState], now: datetime
    ) -> list[tuple[Transition, CheckState]]:
        """Held or soft-failing dependants that become unreachable now that `name` is down."""
        if tr.current not in DOWN or not self.graph.dependants.get(name):
            return []
        out = []
        view = dict(states)
        for child in topology.cascade(name, self.graph, view, now, self.fresh_within(name)):
            old = view[child]
            summary = f"{name} down: {old.last_summary}"
            new = CheckState(
                status=Status.UNREACHABLE,
                since=now,
                last_status=old.last_status,
                last_summary=summary,
                last_check_at=old.last_check_at,
                # Flapping is the check's own: only its results start or stop it.
                flap_history=old.flap_history,
                flapping=old.flapping,
            )
            view[child] = new
            out.append((Transition(child, old.status, Status.UNREACHABLE, now, summary), new))
            self.release(child)
        return out

    def affected_roots(
        self,
        name: str,
        before: Mapping[str, CheckState],
        after: Mapping[str, CheckState],
    ) -> dict[str, tuple[str, ...]]:
        """For every root cause whose list may have changed with this transition of `name`,
        the checks it makes unreachable now."""
        g = self.graph
        roots = set(topology.root_causes(name, g, before))
        roots |= set(topology.root_causes(name, g, after))
        if g.dependants.get(name) and (
            topology.is_down(before.get(name)) or topology.is_down(after.get(name))
        ):
            roots.add(name)
        return {r: topology.affected(r, g, after) for r in sorted(roots)}
