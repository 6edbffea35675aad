"""Value types used in config: durations ("1h30m"), percentages ("40%"), and base models."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(value: Any) -> timedelta:
    """Parse "90s", "15m", "1h30m", "250ms" (or a timedelta) into a timedelta.

    Bare numbers are refused on purpose: "60" could mean seconds or minutes.
    """
    if isinstance(value, timedelta):
        return value
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
    return timedelta(seconds=total)


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


def parse_percent(value: Any) -> float:
    """Parse "40%" (or a number 0..100) into a percentage float."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and value.strip().endswith("%"):
        try:
            number = float(value.strip()[:-1])
        except ValueError:
            raise ValueError(f'invalid percentage {value!r}: write it like "40%"') from None
    else:
        raise ValueError(f'invalid percentage {value!r}: write it like "40%"')
    if not 0 <= number <= 100:
        raise ValueError(f"percentage {value!r} must be between 0% and 100%")
    return number


Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)
]
Percent = Annotated[float, BeforeValidator(parse_percent)]


class Strict(BaseModel):
    """Base of every config model: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
