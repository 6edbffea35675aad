"""Escalation rules: which rules match a check's problem, and what they decide together. Pure.

Rules are evaluated in config order. The first matching rule wins, unless it says
`continue = true`: then evaluation goes on and later matches add to the decision. For the
single-valued fields (severity, policy, owner, runbook, category) the FIRST matched rule that
set a value wins; action steps accumulate in rule order.

A rule with no matchers at all (no `match`, `match_re` or `status`) and no `continue = true`
is a default route: it is tried after every other rule, wherever it stands in the files, so a
rule appended below the shipped catch-all is still reached. Default routes keep their order
among themselves: the first one decides, and a second one is never reached.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import Protocol

from escalatord.core.status import Status

DEFAULT_SEVERITY = "error"
CHECK_LABEL = "check"  # the pseudo-label holding the check's name


class Rule(Protocol):
    """What matching reads of a rule; `config.model.Rule` (a `[[rule]]`) satisfies it."""

    @property
    def name(self) -> str: ...
    @property
    def match(self) -> Mapping[str, str | tuple[str, ...]]: ...
    @property
    def match_re(self) -> Mapping[str, str]: ...
    @property
    def status(self) -> tuple[str, ...]: ...
    @property
    def status_given(self) -> bool:
        """Whether the rule names its statuses (rather than taking the default three)."""

    @property
    def continue_(self) -> bool: ...
    @property
    def severity(self) -> str | None: ...
    @property
    def policy(self) -> str | None: ...
    @property
    def owner(self) -> str | None: ...
    @property
    def runbook(self) -> str | None: ...
    @property
    def steps(self) -> tuple[str, ...]: ...
    @property
    def category(self) -> str | None:
        """The name of the business-impact `[[category]]` the rule's incidents belong to."""


@dataclass(frozen=True)
class Decision:
    """What the matched rules decided. `rules` names every matched rule, in order.

    `category` is the first matched rule's category name (None: none set one); `priority` is
    that category's, which the rules do not know: `with_priority` adds it from the config."""

    rules: tuple[str, ...]
    severity: str
    policy: str | None
    owner: str
    runbook: str
    steps: tuple[str, ...]
    category: str | None = None
    priority: int | None = None

    def with_priority(self, priorities: Mapping[str, int]) -> Decision:
        """This decision with its category's priority from `priorities` (name → priority)."""
        if self.category is None:
            return self
        return replace(self, priority=priorities.get(self.category))


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    # Rules are matched on every transition; compile each distinct pattern once.
    return re.compile(pattern)


def matches(rule: Rule, labels: Mapping[str, str], check: str, status: Status) -> bool:
    """Whether `rule` applies to `check` (with `labels`) in `status`.

    Every `match` key must equal the label (a tuple: any of its values), every `match_re`
    regex must match the whole label, and `status` must be one of `rule.status`. The label
    "check" is the check's name, whatever a real label of that name says. A label the check
    does not have never matches. OK never matches; nor does UNREACHABLE unless a rule lists it.
    """
    if not status.is_problem or status not in rule.status:
        return False
    values = {**labels, CHECK_LABEL: check}
    for key, wanted in rule.match.items():
        value = values.get(key)
        if value is None:
            return False
        if isinstance(wanted, str):
            if value != wanted:
                return False
        elif value not in wanted:
            return False
    for key, pattern in rule.match_re.items():
        value = values.get(key)
        if value is None or _compiled(pattern).fullmatch(value) is None:
            return False
    return True


def is_default_route(rule: Rule) -> bool:
    """Whether `rule` is a default route: no `match`, `match_re` or `status`, no `continue`."""
    return not (rule.match or rule.match_re or rule.continue_ or rule.status_given)


def evaluation_order(rules: Sequence[Rule]) -> Iterator[int]:
    """Indexes of `rules` in the order they are tried: every other rule, then the default
    routes, each group in config order."""
    defaults = [is_default_route(rule) for rule in rules]
    yield from (i for i, default in enumerate(defaults) if not default)
    yield from (i for i, default in enumerate(defaults) if default)


def match(
    rules: Sequence[Rule], labels: Mapping[str, str], check: str, status: Status
) -> Decision | None:
    """The merged decision of the rules matching `check` in `status`; None when none match."""
    matched = []
    for index in evaluation_order(rules):
        rule = rules[index]
        if matches(rule, labels, check, status):
            matched.append(rule)
            if not rule.continue_:
                break
    if not matched:
        return None

    def first(field: str) -> str | None:
        return next((v for r in matched if (v := getattr(r, field)) is not None), None)

    return Decision(
        rules=tuple(r.name for r in matched),
        severity=first("severity") or DEFAULT_SEVERITY,
        policy=first("policy"),
        owner=first("owner") or "",
        runbook=first("runbook") or "",
        steps=tuple(s for r in matched for s in r.steps),
        category=first("category"),
    )
