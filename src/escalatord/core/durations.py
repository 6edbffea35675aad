"""Durations as config writes them ("90s", "1h30m", "250ms") and as messages print them. Pure."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
# No setting needs more than this, and every sum a duration takes part in (an expiry, a
# deadline, a ladder repeated 100 times) stays far inside what datetime can hold.
MAX_DURATION = timedelta(days=3650)
_MAX_TEXT = "3650d (10 years)"


def parse_duration(value: Any) -> timedelta:
    """Parse "90s", "15m", "1h30m", "250ms" (or a timedelta) into a timedelta.

    Bare numbers are refused on purpose: "60" could mean seconds or minutes. Anything longer
    than MAX_DURATION (10 years) is refused: such a value is a typo, and datetime arithmetic
    on it would fail later, far from the config.
    """
    if isinstance(value, timedelta):
        return _bounded(value, value)
    if not isinstance(value, str):
        raise ValueError(f'expected a duration string like "90s" or "1h30m", got {value!r}')
    text = value.strip().replace(" ", "")
    pos, total = 0, 0.0
    for m in _PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not text or pos != len(text):
        raise ValueError(
            f"invalid duration {value!r}: use a number and a unit (ms, s, m, h, d, w), "
            'e.g. "90s", "15m", "1h30m"'
        )
    # float() of a long digit string can be inf; timedelta() raises OverflowError past
    # ~2.7 million years: both are caught here, by comparing the float first.
    if not total <= MAX_DURATION.total_seconds():
        raise _too_long(value)
    return _bounded(timedelta(seconds=total), value)


def _too_long(value: Any) -> ValueError:
    return ValueError(f"duration {value!r} is too long: the longest allowed is {_MAX_TEXT}")


def _bounded(td: timedelta, value: Any) -> timedelta:
    if td > MAX_DURATION:
        raise _too_long(value)
    return td


def format_duration(td: timedelta) -> str:
    """The shortest readable form: 5400s -> "1h30m", 0.25s -> "250ms"."""
    total = td.total_seconds()
    if total < 1 and total != 0:
        return f"{round(total * 1000)}ms"
    out, rest = [], round(total)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            out.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(out) or "0s"
