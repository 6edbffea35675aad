"""What travels between a satellite and the central daemon, as JSON.

A batch of results (POST /api/v1/satellites/<name>/results):

    {"results": [{"check": "boston-printer", "status": "critical",
                  "summary": "connection refused", "measurements": {"rtt": 0.012},
                  "duration": 0.013, "at": "2026-12-08T01:02:03.456+00:00"}, …]}

`at` is when the result was taken (RFC 3339 with an offset); `measurements` and `duration`
are optional. A batch holds at most MAX_RESULTS results. The central daemon answers with the
fate of each (`applied`, `late`, `superseded` or `refused` with a reason).

A satellite's checks (GET /api/v1/satellites/<name>/config) travel as their config sections,
secrets included (`check_to_wire`), and are validated again by the satellite
(`check_from_wire`) with their type's own model.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr

from escalatord import plugins
from escalatord.checks.base import CheckConfig
from escalatord.core.durations import format_duration
from escalatord.core.status import Result, Status

MAX_RESULTS = 1000
MAX_SUMMARY = 2000  # characters of a summary kept
MAX_MEASUREMENTS = 50
# Keys a satellite never gets: parents are the central daemon's business (topology is judged
# there), and only enabled checks are sent.
LOCAL_KEYS = frozenset({"depends_on", "depends_on_any", "enabled"})
STATUSES = tuple(s.value for s in Status if s is not Status.UNREACHABLE)


@dataclass(frozen=True)
class Item:
    """One valid result of a batch, with its position in the batch."""

    index: int
    check: str
    result: Result


@dataclass(frozen=True)
class Refusal:
    index: int
    check: str | None
    reason: str


class BatchError(ValueError):
    """The batch as a whole is not valid (answered 400)."""


def result_to_wire(check: str, result: Result) -> dict[str, Any]:
    assert result.at is not None, "execute() sets every result's time"
    return {
        "check": check,
        "status": result.status.value,
        "summary": result.summary,
        "measurements": dict(result.measurements),
        "duration": round(result.duration, 6),
        "at": result.at.isoformat(),
    }


def parse_batch(data: Any) -> tuple[list[Item], list[Refusal]]:
    """The valid results of a batch and the refusals of the others; BatchError if the body
    itself is not a batch."""
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise BatchError('the body must be a JSON object with a "results" list')
    results = data["results"]
    if len(results) > MAX_RESULTS:
        raise BatchError(
            f"a batch holds at most {MAX_RESULTS} results, got {len(results)}; send smaller ones"
        )
    items: list[Item] = []
    refusals: list[Refusal] = []
    for index, raw in enumerate(results):
        try:
            items.append(parse_item(index, raw))
        except ValueError as exc:
            check = raw.get("check") if isinstance(raw, dict) else None
            refusals.append(Refusal(index, check if isinstance(check, str) else None, str(exc)))
    return items, refusals


def parse_item(index: int, raw: Any) -> Item:
    """One result of a batch; ValueError naming the field that is wrong."""
    if not isinstance(raw, dict):
        raise ValueError("a result must be a JSON object")
    unknown = sorted(set(raw) - {"check", "status", "summary", "measurements", "duration", "at"})
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r}")
    check = raw.get("check")
    if not isinstance(check, str) or not check:
        raise ValueError('"check" must be a check\'s name')
    status = raw.get("status")
    if status not in STATUSES:
        raise ValueError(f'"status" must be one of {", ".join(STATUSES)}')
    summary = raw.get("summary", "")
    if not isinstance(summary, str):
        raise ValueError('"summary" must be a string')
    measurements = raw.get("measurements") or {}
    if not isinstance(measurements, dict) or len(measurements) > MAX_MEASUREMENTS:
        raise ValueError(f'"measurements" must be an object of at most {MAX_MEASUREMENTS} numbers')
    for key, value in measurements.items():
        if not _number(value):
            raise ValueError(f'"measurements".{key} must be a finite number')
    duration = raw.get("duration", 0.0)
    if not _number(duration) or duration < 0:
        raise ValueError('"duration" must be a number of seconds, 0 or more')
    at = _time(raw.get("at"))
    result = Result(
        Status(status),
        summary[:MAX_SUMMARY],
        measurements={k: float(v) for k, v in measurements.items()},
        duration=float(duration),
        at=at,
    )
    return Item(index, check, result)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError('"at" must be the time the result was taken, RFC 3339')
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError('"at" is not an RFC 3339 time, e.g. "2026-12-08T01:02:03+00:00"') from None
    if at.tzinfo is None:
        raise ValueError('"at" needs a UTC offset, e.g. "2026-12-08T01:02:03+00:00"')
    return at


def check_to_wire(config: CheckConfig) -> dict[str, Any]:
    """A check's section as the satellite needs it: the keys it was given (defaults filled in
    by the loader included), secrets revealed, durations as "90s"."""
    data = _plain(config)
    return {k: v for k, v in data.items() if k not in LOCAL_KEYS}


def check_from_wire(data: Any) -> CheckConfig:
    """A check section fetched from the central daemon, validated by its type's model;
    ValueError (or pydantic's ValidationError) when it does not validate."""
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ValueError("a check section needs a type")
    if not plugins.known("checks", data["type"]):
        raise ValueError(f"unknown check type {data['type']!r}: install the same plugins here")
    model: type[CheckConfig] = plugins.load("checks", data["type"]).Config
    return model.model_validate(data)


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        fields = type(value).model_fields
        out = {}
        for name in value.model_fields_set:
            field = fields.get(name)
            if field is None:
                continue
            out[field.alias or name] = _plain(getattr(value, name))
        return out
    if isinstance(value, SecretStr | SecretBytes):
        secret = value.get_secret_value()
        return secret.decode() if isinstance(secret, bytes) else secret
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return value
