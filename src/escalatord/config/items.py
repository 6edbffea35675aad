"""The config's items as read, and the checks that span them: duplicate names, references
to names that do not exist, dependency and fallback cycles (config/loader.py reports them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from escalatord.core.topology import find_cycles

# The [[item]] kinds that have names.
KINDS = (
    "check",
    "notifier",
    "rule",
    "policy",
    "person",
    "team",
    "schedule",
    "maintenance",
    "category",
    "satellite",
)
# What a level's `notify` may name; these names share one namespace (config/people_checks.py).
TARGETS = ("person", "team", "schedule", "notifier")


@dataclass
class Item:
    """One section or [[item]] table as read, and where it came from."""

    kind: str  # "daemon", "defaults", "check", "rule", "policy" or "notifier"
    file: str
    base: str  # the directory relative paths in it start from
    index: int  # position among its file's items of this kind, from 0 like every index shown
    label: str  # "daemon", "check[web]" or "check[#3]"
    data: dict[str, Any]

    @property
    def name(self) -> str | None:
        name = self.data.get("name")
        return name if isinstance(name, str) and name else None

    def path(self, key: str) -> str:
        return f"{self.label}.{key}" if key else self.label

    def list(self, key: str) -> list[Any]:
        """`data[key]` if it is a list, else [] (a wrong shape is reported by validation)."""
        value = self.data.get(key)
        return value if isinstance(value, list) else []


def cross_check(items: list[Item], at: Callable[[Item, str, str], None]) -> None:
    """Duplicate names, references to names that do not exist, dependency cycles."""
    first: dict[str, dict[str, Item]] = {kind: {} for kind in KINDS}
    for item in items:
        if item.name and (seen := first[item.kind].setdefault(item.name, item)) is not item:
            at(
                item,
                "name",
                f"duplicate {item.kind} name {item.name!r}: already used by "
                f"[[{item.kind}]] #{seen.index} in {seen.file}",
            )

    def unknown(kind: str, name: Any) -> str | None:
        if not isinstance(name, str) or name in first[kind]:
            return None
        return f"unknown {kind} {name!r}; defined {kind} names: {', '.join(first[kind]) or 'none'}"

    def unknown_target(name: Any) -> str | None:
        if not isinstance(name, str) or any(name in first[kind] for kind in TARGETS):
            return None
        if not any(first[kind] for kind in TARGETS if kind != "notifier"):
            return unknown("notifier", name)  # a config without people names channels only
        defined = "; ".join(f"{k}s {', '.join(first[k])}" for k in TARGETS if first[k])
        return (
            f"unknown name {name!r}: not a person, team, schedule or notifier; "
            f"defined names: {defined}"
        )

    for item in items:
        refs: list[tuple[str, str | None]] = []
        if item.kind == "rule":
            refs.append(("policy", unknown("policy", item.data.get("policy"))))
            refs.append(("category", unknown("category", item.data.get("category"))))
        elif item.kind == "policy":
            for index, level in enumerate(item.list("level")):
                notify = level.get("notify") if isinstance(level, dict) else None
                for name in notify if isinstance(notify, list) else ():
                    refs.append((f"level[{index}].notify", unknown_target(name)))
        elif item.kind == "check":
            for key in ("depends_on", "depends_on_any"):
                for name in item.list(key):
                    own = name == item.name and "a check cannot depend on itself"
                    refs.append((key, own or unknown("check", name)))
            if len(item.list("depends_on_any")) == 1:
                refs.append(
                    (
                        "depends_on_any",
                        "depends_on_any lists redundant paths and needs at least two; "
                        "for a single parent use depends_on",
                    )
                )
        elif item.kind == "notifier":
            fallback = item.data.get("fallback")
            own = fallback == item.name and "a notifier cannot be its own fallback"
            refs.append(("fallback", own or unknown("notifier", fallback)))
        for key, message in refs:
            if message:
                at(item, key, message)

    checks = first["check"]
    graph = {
        name: [
            d
            for d in (*item.list("depends_on"), *item.list("depends_on_any"))
            if d in checks and d != name
        ]
        for name, item in checks.items()
    }
    for cycle in find_cycles(graph):
        path = " -> ".join([*cycle, cycle[0]])
        at(checks[cycle[0]], "depends_on", f"dependency cycle: {path}")

    notifiers = first["notifier"]
    fallbacks: dict[str, list[str]] = {}
    for name, item in notifiers.items():
        target = item.data.get("fallback")
        ok = isinstance(target, str) and target in notifiers and target != name
        fallbacks[name] = [target] if ok else []
    for cycle in find_cycles(fallbacks):
        path = " -> ".join([*cycle, cycle[0]])
        at(notifiers[cycle[0]], "fallback", f"fallback cycle: {path}")
