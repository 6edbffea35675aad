"""Assertions on a JSON body, for the http check's `expect_json`. Pure.

    expect_json = [
      { path = "status", equals = "up" },
      { path = "checks.database.latency_ms", lt = 250, status = "warning" },
      { path = "queues[0].depth", le = 1000 },
      { path = "maintenance", exists = false },
    ]

A path is keys separated by dots, with `[n]` for list items (from 0) and `["a.b"]` for keys
holding dots; `$` alone is the whole document. Each assertion has one or more of `equals`,
`not_equals`, `lt`, `le`, `gt`, `ge` (numbers), `contains` (in a string or a list) and
`exists`; a failed one makes the check `status` (default critical).
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import field_validator, model_validator

from escalatord.fields import Strict

_STEP = re.compile(r'\.?([^.\[\]"]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]')
COMPARISONS = ("equals", "not_equals", "lt", "le", "gt", "ge", "contains", "exists")
_MISSING = object()


def parse_path(path: str) -> list[str | int]:
    """`a.b[0]["c.d"]` → ["a", "b", 0, "c.d"]; ValueError naming the syntax when malformed."""
    text = path.strip()
    if text == "$":
        return []
    text = text.removeprefix("$.") if text.startswith("$.") else text.removeprefix("$")
    steps: list[str | int] = []
    pos = 0
    while pos < len(text):
        found = _STEP.match(text, pos)
        if found is None or found.end() == pos or (pos == 0 and text.startswith(".")):
            raise ValueError(
                f"invalid JSON path {path!r}: write keys separated by dots, [n] for list "
                'items, ["a.b"] for keys with dots, e.g. "checks.db.status" or "items[0].id"'
            )
        key, index, quoted = found.groups()
        steps.append(int(index) if index is not None else (quoted if quoted is not None else key))
        pos = found.end()
    if not steps:
        raise ValueError(f"invalid JSON path {path!r}: it is empty; use $ for the whole body")
    return steps


def resolve(document: Any, steps: list[str | int]) -> Any:
    """The value at `steps`, or `_MISSING`."""
    value = document
    for step in steps:
        if isinstance(step, int) and isinstance(value, list) and -len(value) <= step < len(value):
            value = value[step]
        elif isinstance(step, str) and isinstance(value, dict) and step in value:
            value = value[step]
        else:
            return _MISSING
    return value


def _same(a: Any, b: Any) -> bool:
    # JSON true is not 1 (Python says it is).
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:60] + "…"


class JsonAssertion(Strict):
    path: str
    equals: Any = None
    not_equals: Any = None
    lt: float | None = None
    le: float | None = None
    gt: float | None = None
    ge: float | None = None
    contains: Any = None
    exists: bool | None = None
    status: Literal["warning", "critical"] = "critical"

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        parse_path(value)
        return value

    @model_validator(mode="after")
    def _some(self) -> JsonAssertion:
        if not any(name in self.model_fields_set for name in COMPARISONS):
            raise ValueError(f"give at least one of {', '.join(COMPARISONS)} for {self.path!r}")
        return self

    def failure(self, document: Any) -> str | None:
        """Why `document` fails this assertion; None when it passes."""
        value = resolve(document, parse_path(self.path))
        given = self.model_fields_set
        if "exists" in given:
            if self.exists and value is _MISSING:
                return f"{self.path} is missing"
            if not self.exists and value is not _MISSING:
                return f"{self.path} exists ({_show(value)}), expected it absent"
        if value is _MISSING:
            only_exists = not given - {"path", "status", "exists"}
            return None if only_exists else f"{self.path} is missing"
        if "equals" in given and not _same(value, self.equals):
            return f"{self.path} is {_show(value)}, expected {_show(self.equals)}"
        if "not_equals" in given and _same(value, self.not_equals):
            return f"{self.path} is {_show(value)}, expected anything else"
        for name, symbol, ok in (
            ("lt", "<", lambda a, b: a < b),
            ("le", "<=", lambda a, b: a <= b),
            ("gt", ">", lambda a, b: a > b),
            ("ge", ">=", lambda a, b: a >= b),
        ):
            limit = getattr(self, name)
            if name not in given or limit is None:
                continue
            if not _number(value):
                return f"{self.path} is {_show(value)}, not a number (expected {symbol} {limit:g})"
            if not ok(value, limit):
                return f"{self.path} is {_show(value)}, expected {symbol} {limit:g}"
        if "contains" in given:
            inside = (
                isinstance(value, str)
                and isinstance(self.contains, str)
                and (self.contains in value)
            )
            inside = inside or (
                isinstance(value, list) and any(_same(v, self.contains) for v in value)
            )
            if not inside:
                wanted = _show(self.contains)
                return f"{self.path} is {_show(value)}, expected it to contain {wanted}"
        return None
