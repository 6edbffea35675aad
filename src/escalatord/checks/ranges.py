"""Threshold ranges in the monitoring-plugins syntax (the Nagios plugin guidelines).

    "10"      alert when the value is below 0 or above 10
    "10:"     alert below 10              "~:10"   alert above 10 (no lower bound)
    "10:20"   alert outside 10..20        "@10:20" alert INSIDE 10..20 (bounds included)

A bound may be negative or a decimal ("-5.5:0.5"); an empty start means 0 (":10" == "10"),
an empty end means no upper bound ("10:"). `parse_range()` is pure and raises ValueError with
the accepted forms; `Range.violates()` says whether a value is outside what is OK.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_RANGE = re.compile(rf"^(?P<at>@)?(?:(?P<start>~|{_NUMBER})?:)?(?P<end>{_NUMBER})?$")
FORMS = (
    '"10" (alert outside 0..10), "10:" (below 10), "~:10" (above 10), '
    '"10:20" (outside 10..20) or "@10:20" (inside 10..20)'
)


@dataclass(frozen=True)
class Range:
    """An OK range: `start`..`end` (infinite where None); `inside` inverts it (the @ form)."""

    start: float | None = 0.0  # None: no lower bound ("~")
    end: float | None = None  # None: no upper bound
    inside: bool = False
    text: str = ""

    def violates(self, value: float) -> bool:
        """True when `value` should raise the alert this range stands for."""
        within = (self.start is None or value >= self.start) and (
            self.end is None or value <= self.end
        )
        return within if self.inside else not within

    def __str__(self) -> str:
        return self.text or _format(self)

    def describe(self, nonnegative: bool = False) -> str:
        """The alert condition in words, for summaries: "above 10", "outside 10..20".

        `nonnegative`: the value cannot be below 0 (a rate, a percentage), so "0..90" reads
        "above 90".
        """
        lo, hi = self.start, self.end
        if nonnegative and lo == 0 and not self.inside:
            lo = None
        if self.inside:
            low = "-inf" if lo is None else _num(lo)
            return f"inside {low}..{'inf' if hi is None else _num(hi)}"
        if lo is None and hi is not None:
            return f"above {_num(hi)}"
        if hi is None and lo is not None:
            return f"below {_num(lo)}"
        if lo is None and hi is None:
            return "never"
        return f"outside {_num(lo)}..{_num(hi)}"  # type: ignore[arg-type]


def parse_range(value: Any) -> Range:
    """A Range from its text ("10:20", "@5"), or from a bare number (10 == "10")."""
    if isinstance(value, Range):
        return value
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"a threshold range must be a string or a number, e.g. {FORMS}")
    text = str(value).strip() if isinstance(value, str) else _num(float(value))
    found = _RANGE.match(text.replace(" ", ""))
    empty = found is not None and found["end"] is None and ":" not in text
    if not found or empty:
        raise ValueError(f"invalid threshold range {text!r}: write {FORMS}")
    raw_start = found["start"]
    start = None if raw_start == "~" else float(raw_start) if raw_start else 0.0
    end = float(found["end"]) if found["end"] else None
    for bound in (start, end):
        if bound is not None and not math.isfinite(bound):
            raise ValueError(f"invalid threshold range {text!r}: bounds must be finite numbers")
    if raw_start is None and end is not None and end < 0:
        raise ValueError(
            f"invalid threshold range {text!r}: a single number N means 0..N, so it cannot be "
            f'negative; write "~:{_num(end)}" (alert above it) or a "start:end" pair'
        )
    if start is not None and end is not None and start > end:
        raise ValueError(
            f"invalid threshold range {text!r}: the start {_num(start)} is above the end "
            f"{_num(end)}; write {FORMS}"
        )
    return Range(start=start, end=end, inside=bool(found["at"]), text=text)


def _num(x: float) -> str:
    return str(int(x)) if x == int(x) and abs(x) < 1e15 else repr(x)


def _format(r: Range) -> str:
    start = "~" if r.start is None else _num(r.start)
    end = "" if r.end is None else _num(r.end)
    body = end if r.start == 0 and r.end is not None else f"{start}:{end}"
    return ("@" if r.inside else "") + body


# A config field holding a range: `warning = "10:20"` or `warning = 10`.
RangeField = Annotated[Range, BeforeValidator(parse_range), PlainSerializer(str, return_type=str)]
