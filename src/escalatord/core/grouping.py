"""Storms: which group a new incident is paged with (a rule's `group_by`). Pure.

A rule with `group_by = ["site"]` and `group_wait = "30s"` pages the incidents it opens
together when they have equal values of those labels and open within `group_wait` of the
group's first incident (its leader). The leader carries the escalation ladder; a member that
joins it has no ladder of its own: the leader's pages list every member, and one
acknowledgement acknowledges them all (incidents/groups.py stores and applies this).

The group key is the rule's name and the grouped labels' values ("site-storms|site=boston");
a label the incident does not have counts as the empty value, so incidents without it are
grouped together rather than each alone (as Alertmanager does).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from escalatord.core.rules import CHECK_LABEL

KEY_LIMIT = 400  # incidents.group_key is String(400)


@dataclass(frozen=True)
class Grouping:
    """What grouping reads of a rule: its name, `group_by` and `group_wait`."""

    rule: str
    by: tuple[str, ...]
    wait: timedelta


@dataclass(frozen=True)
class OpenGroup:
    """A group still paging: its leader (the incident carrying the ladder), its key and when
    its first incident opened."""

    leader: int
    key: str
    first_opened: datetime


@dataclass(frozen=True)
class Membership:
    """Where a new incident goes: its group key, and the leader it joins (None: it leads a new
    group, its first page waiting `group_wait`)."""

    key: str
    leader: int | None
    wait: timedelta = timedelta(0)  # the rule's group_wait: how long a new leader gathers


def grouping_of(rules: Iterable[object], matched: Sequence[str]) -> Grouping | None:
    """The grouping of a decision: the first matched rule (by `matched`, the decision's rule
    names in order) that sets `group_by`; None when none does (nothing changes then)."""
    by_name = {getattr(r, "name", None): r for r in rules}
    for name in matched:
        rule = by_name.get(name)
        by = tuple(getattr(rule, "group_by", ()) or ())
        if rule is not None and by:
            wait = getattr(rule, "group_wait", None)
            return Grouping(name, by, wait if wait is not None else timedelta(0))
    return None


def group_key(grouping: Grouping, labels: Mapping[str, str], check: str) -> str:
    """The key incidents must share to be grouped: rule and the grouped labels' values ("check"
    is the check's name, as in matching). Over 400 characters, the tail is a hash."""
    values = {**labels, CHECK_LABEL: check}
    key = grouping.rule + "|" + "&".join(f"{name}={values.get(name, '')}" for name in grouping.by)
    if len(key) <= KEY_LIMIT:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return key[: KEY_LIMIT - len(digest) - 1] + "#" + digest


def join(
    groups: Sequence[OpenGroup],
    grouping: Grouping,
    labels: Mapping[str, str],
    check: str,
    now: datetime,
) -> Membership:
    """The group a new incident opening at `now` joins: a group of the same key still paging
    whose first incident opened at most `group_wait` before (the earliest such, when a
    restart left several); else it leads a new group."""
    key = group_key(grouping, labels, check)
    fitting = [
        g
        for g in groups
        if g.key == key and g.first_opened <= now <= g.first_opened + grouping.wait
    ]
    if not fitting:
        return Membership(key, None, grouping.wait)
    first = min(fitting, key=lambda g: (g.first_opened, g.leader))
    return Membership(key, first.leader, grouping.wait)
