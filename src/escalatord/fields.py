"""The building blocks every config section is made of: the strict base model and value types
(durations, percentages, request headers) as pydantic understands them.

Checks, notifiers and the trap receiver build their own sections from these; `config/` puts the
sections together into the whole file. Parsing and printing durations is pure and lives in
`core/durations.py`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from cronsim import CronSim, CronSimError
from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer

from escalatord.core.durations import format_duration, parse_duration


def positive_timeout(value: timedelta) -> timedelta:
    """A `timeout` must leave time to do something: "0s" would fail every run at once."""
    if value <= timedelta(0):
        raise ValueError('timeout must be longer than 0s, e.g. timeout = "10s"')
    return value


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


TOKEN_MIN = 16  # characters of a configured secret token (API, heartbeat, satellite)


def secret_token(value: str, example: str) -> str:
    """A token long enough to resist guessing, stripped; ValueError saying how to make one.
    `example` ends the message ("" or ", e.g. token = …"). The value is never quoted back."""
    if len(value.strip()) < TOKEN_MIN:
        raise ValueError(
            f"token must be at least {TOKEN_MIN} characters; make one with "
            f"`openssl rand -hex 16` and keep it in token_file or ${{ENV}}{example}"
        )
    return value.strip()


def cron_schedule(value: str | None, example: str) -> str | None:
    """A five-field cron expression that fires, checked with cronsim (None passes); ValueError
    saying how to write one, `example` an expression with what it means."""
    if value is None:
        return None
    try:
        next(CronSim(value, datetime(2000, 1, 1, tzinfo=UTC)))
    except CronSimError as exc:
        raise ValueError(
            f"invalid cron schedule {value!r} ({exc}): write five fields, minute hour "
            f"day-of-month month day-of-week, e.g. {example}"
        ) from None
    except StopIteration:
        raise ValueError(f"the schedule {value!r} never fires") from None
    return value
