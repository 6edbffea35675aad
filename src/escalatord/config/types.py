"""Value types used in config: durations ("1h30m"), percentages ("40%"), and base models."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer

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


def positive_timeout(value: timedelta) -> timedelta:
    """A `timeout` must leave time to do something: "0s" would fail every run at once."""
    if value <= timedelta(0):
        raise ValueError('timeout must be longer than 0s, e.g. timeout = "10s"')
    return value


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
    """Base of every config model: unknown keys are errors, values are frozen.

    A field with an alias (`from_` for the TOML key `from`, `levels` for `level`) accepts only
    its alias: populating by field name would let `levels = [...]` past the loader's
    cross-checks, which read the TOML keys. Build models from TOML keys (`model_validate`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)


_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 field-name


def check_headers(value: dict[str, str], reserved: frozenset[str] = frozenset()) -> dict[str, str]:
    """Validate configured HTTP request headers; ValueError naming the header and the fix.

    `reserved` are lower-case names the caller sets itself. Messages never quote a value:
    header values are usually credentials.
    """
    for name, text in value.items():
        if not _HEADER_NAME.match(name):
            raise ValueError(
                f"headers: {name!r} is not a valid header name "
                "(letters, digits and -, no spaces or colons)"
            )
        if name.lower() in reserved:
            raise ValueError(
                f"headers: {name!r} is set by escalatord itself; remove it from headers"
            )
        # A CR or LF would let a value smuggle extra headers into the request (and a secret
        # read from ${ENV} often ends in one); other control or non-ASCII characters would
        # make every request fail at the HTTP layer.
        if not all(" " <= c <= "~" or c == "\t" for c in text):
            raise ValueError(
                f"headers.{name}: the value must be one line of printable ASCII "
                "(no CR, LF or other control characters, no accents)"
            )
        if text != text.strip(" \t"):  # HTTP libraries refuse such a value on every request
            raise ValueError(f"headers.{name}: remove the spaces or tabs around the value")
    return value
