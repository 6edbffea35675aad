"""Rules that can never match: an earlier rule without `continue` takes all they would. Pure.

Rule A shadows rule B when A is tried before B (see `rules.evaluation_order`), A does not say
`continue = true`, and every (labels, check, status) that B matches A matches too: then the
evaluation always stops at A (or earlier) and B is never reached.

Only what can be proved is claimed, matcher by matcher, for each key A constrains:
- `match` on a key: B must constrain that key to a finite set of values (its own `match`,
  narrowed by its `match_re` on the key) that lies inside A's values;
- `match_re` on a key: every value B's `match` allows must fullmatch A's regex, or B must
  carry the very same regex on the key;
- `status`: B's statuses must be among A's.
A key A leaves alone accepts anything. Two regexes that are not the same text are never
compared, and a rule covered only by several earlier rules together is not reported: the
analysis may miss a shadowed rule, but every rule it names is unreachable.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from escalatord.core.rules import Rule, evaluation_order, is_default_route


@dataclass(frozen=True)
class Shadow:
    """Rule `rules[rule]` is never reached: `rules[by]`, tried before it, takes all it would."""

    rule: int
    by: int


def _values(rule: Rule, key: str) -> frozenset[str] | None:
    """The values of label `key` that `rule` can match, when that is a finite set."""
    wanted = rule.match.get(key)
    if wanted is None:
        return None
    values = {wanted} if isinstance(wanted, str) else set(wanted)
    pattern = rule.match_re.get(key)
    if pattern is not None:
        values = {v for v in values if re.fullmatch(pattern, v)}
    return frozenset(values)


def covers(a: Rule, b: Rule) -> bool:
    """Whether every problem `b` matches is provably matched by `a` as well."""
    if not set(b.status) <= set(a.status):
        return False
    for key, wanted in a.match.items():
        allowed = _values(b, key)
        accepted = {wanted} if isinstance(wanted, str) else set(wanted)
        if allowed is None or not allowed <= accepted:
            return False
    for key, pattern in a.match_re.items():
        allowed = _values(b, key)
        if allowed is None:
            if b.match_re.get(key) != pattern:
                return False
        elif not all(re.fullmatch(pattern, value) for value in allowed):
            return False
    return True


def shadowed(rules: Sequence[Rule]) -> list[Shadow]:
    """Every rule that can never match, with the first earlier rule that takes all it would,
    in the order the rules are tried."""
    found: list[Shadow] = []
    earlier: list[int] = []  # rules tried before, that stop the evaluation when they match
    for index in evaluation_order(rules):
        rule = rules[index]
        by = next((i for i in earlier if covers(rules[i], rule)), None)
        if by is not None:
            found.append(Shadow(index, by))
        if not rule.continue_:
            earlier.append(index)
    return found


class RuleSet(Protocol):
    """The rules in the order the files give them, and the file each came from (`Config`)."""

    @property
    def rules(self) -> Sequence[Rule]: ...
    @property
    def rule_files(self) -> Sequence[str]: ...


def shadow_warnings(config: RuleSet) -> list[str]:
    """A sentence per rule that can never match, naming both rules and their files, and how
    to mend it; check-config prints them and the daemon logs them at start and reload."""
    rules, files = config.rules, config.rule_files
    return [_describe(rules, files, s.rule, s.by) for s in shadowed(rules)]


def _describe(rules: Sequence[Rule], files: Sequence[str], index: int, by: int) -> str:
    def named(i: int) -> str:
        return (
            f"rule {rules[i].name!r} ({files[i]})" if i < len(files) else f"rule {rules[i].name!r}"
        )

    rule, other = rules[index].name, rules[by].name
    if is_default_route(rules[by]):  # then the shadowed rule is one too: only they come after
        return (
            f"{named(index)} can never match: {named(by)} is a default route (no match, "
            "match_re or status) before it, and only the first default route is used; remove "
            f"one of them or give {rule!r} a match"
        )
    return (
        f"{named(index)} can never match: {named(by)} is tried before it without `continue` "
        f"and matches everything it would; narrow {other!r}, move {rule!r} above it, or set "
        f"`continue = true` on {other!r}"
    )
