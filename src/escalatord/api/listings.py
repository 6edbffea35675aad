"""`GET /api/v1/incidents` and `GET /api/v1/checks`: JSON listings for dashboards and scripts.

    curl -fsS -H "Authorization: Bearer $TOKEN" \\
        'https://escalatord.example.org/api/v1/incidents?status=all&site=boston&limit=20'

Both need a bearer token from `[api] read_tokens` (a write token reads too). Parameters are
checked strictly: an unknown parameter, a repeated one (other than `label`) or a value out
of range is a 400 whose JSON names the `parameter` and the `allowed` values.

- `/api/v1/incidents` → `{"incidents": [...]}`, newest first, each exactly what
  `escalatord incidents --json` prints (`incidents/views.py`). `status` (default `open`:
  triggered and acknowledged; `all`; or a comma list of statuses), `check` (the incident's
  check name), `site` (as `escalatord incidents --site`), `category` (a `[[category]]` name,
  as `escalatord incidents --category`), `limit` (1-1000, default 100).
- `/api/v1/checks` → `{"checks": [...]}`, every configured check in config order, enabled or
  not, with its state (core/state.py `CheckState`, as the `check_states` table holds it).
  `status` (a comma list: the hard status) and `label=key=value` (repeatable: all must match).

Reads go through the store's reader connections (`store.read()`), never the writer, so a
listing does not wait for, nor hold up, the daemon's writes.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from escalatord.api.auth import ReadTokens, error, require_read_token
from escalatord.checks.base import CheckConfig
from escalatord.core.durations import format_duration
from escalatord.core.events import rfc3339
from escalatord.core.lifecycle import IncidentStatus
from escalatord.core.quiet import QuietTimes
from escalatord.core.state import CheckState
from escalatord.core.status import Status
from escalatord.incidents.views import incident_json, sites
from escalatord.store import states as state_store
from escalatord.store.tables import incidents

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

INCIDENT_STATUSES = tuple(s.value for s in IncidentStatus)
OPEN_STATUSES = tuple(s.value for s in IncidentStatus if s.is_open)
CHECK_STATUSES = tuple(s.value for s in Status)
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# With `site`, incidents are filtered after reading (the site may be in `labels` or in
# `affected`, both JSON): they are read newest first in pages of this many rows.
SITE_PAGE = 500
STATE_PAGE = 250  # check states read per query (see stored_states)
INCIDENT_ALIASES = {"all": INCIDENT_STATUSES, "open": OPEN_STATUSES}
LIMITS = [f"1-{MAX_LIMIT}"]
# The parameters of each listing and what they take (shown in 400 errors as `allowed`).
INCIDENT_PARAMS = {
    "status": [*INCIDENT_ALIASES, *INCIDENT_STATUSES],
    "check": ["a check name"],
    "site": ["a site (labels.site)"],
    "category": ["a category name"],
    "limit": LIMITS,
}
CHECK_PARAMS = {"status": list(CHECK_STATUSES), "label": ["key=value"]}


class Reader(Protocol):
    """The store's reader connections (store/db.py `Store.read`)."""

    def read(self) -> AbstractAsyncContextManager[AsyncConnection]: ...


class HeldStates(Protocol):
    """The check states this daemon's monitor holds in memory (monitor/runner.py `Monitor`)."""

    @property
    def states(self) -> Mapping[str, CheckState]: ...

    @property
    def extra(self) -> Mapping[str, Mapping[str, Any]]: ...


@dataclass(frozen=True)
class ListingServices:
    """What the listing routes use: the store's readers, the monitor's states, the config."""

    store: Reader
    held: HeldStates
    # Both called on every request, so a reload's tokens and checks apply at once.
    tokens: Callable[[], ReadTokens]  # the config's [api]
    checks: Callable[[], Sequence[CheckConfig]]  # every configured check, in config order
    # The quiet times at an instant (maintenance windows, stored silences): each check and
    # open incident says whether it is "in maintenance" (`quiet`). None: never quiet.
    quiet: Callable[[datetime], Awaitable[QuietTimes]] | None = None


class BadParameter(Exception):
    """A query parameter the listing cannot use; becomes a 400 naming it."""

    def __init__(self, parameter: str, message: str, allowed: list[str]):
        super().__init__(message)
        self.parameter = parameter
        self.allowed = allowed

    def response(self) -> JSONResponse:
        return error(
            400, f"{self.parameter}: {self}", parameter=self.parameter, allowed=self.allowed
        )


def _params(request: Request, spec: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """The query parameters by name; `spec` names those that exist (with their allowed
    values). Only `label` may be given more than once."""
    out: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        if name not in spec:
            raise BadParameter(name, f"unknown parameter; use {', '.join(spec)}", list(spec))
        out.setdefault(name, []).append(value)
        if len(out[name]) > 1 and name != "label":
            raise BadParameter(name, "given more than once; give it once", spec[name])
    return out


def _one(params: dict[str, list[str]], name: str, spec: Mapping[str, list[str]]) -> str | None:
    """The parameter's value, stripped; None when not given; refused when empty."""
    if name not in params:
        return None
    value = params[name][0].strip()
    if not value:
        raise BadParameter(name, f"is empty; give {' or '.join(spec[name])}", spec[name])
    return value


def _statuses(
    value: str, allowed: tuple[str, ...], aliases: Mapping[str, tuple[str, ...]]
) -> set[str]:
    """A comma list of statuses (aliases expand) as a set; BadParameter naming the bad one."""
    choices = [*aliases, *allowed]
    usage = f"use a comma list of {', '.join(choices)}"
    chosen: set[str] = set()
    for item in (part.strip().lower() for part in value.split(",")):
        if item in aliases:
            chosen.update(aliases[item])
        elif item in allowed:
            chosen.add(item)
        elif item:
            raise BadParameter("status", f"unknown status {item!r}; {usage}", choices)
    if not chosen:
        raise BadParameter("status", f"is empty; {usage}", choices)
    return chosen


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise BadParameter(
            "limit", f"must be a whole number from 1 to {MAX_LIMIT}, got {value!r}", LIMITS
        )
    return int(value)


def _labels(values: list[str]) -> dict[str, str]:
    wanted: dict[str, str] = {}
    for value in values:
        key, sep, expected = value.partition("=")
        if not sep or not key.strip():
            raise BadParameter(
                "label", f"must be key=value (e.g. label=site=hq), got {value!r}", ["key=value"]
            )
        wanted[key.strip()] = expected.strip()
    return wanted


async def select_incidents(
    store: Reader,
    statuses: set[str],
    check: str | None,
    site: str | None,
    limit: int,
    category: str | None = None,
) -> list[Any]:
    """Incident rows newest first, at most `limit`, read on one reader connection (one
    snapshot on SQLite)."""
    stmt = select(incidents).order_by(incidents.c.id.desc())
    if statuses != set(INCIDENT_STATUSES):
        stmt = stmt.where(incidents.c.status.in_(sorted(statuses)))
    if check is not None:
        stmt = stmt.where(incidents.c.check == check)
    if category is not None:
        stmt = stmt.where(incidents.c.category == category)
    async with store.read() as conn:
        if site is None:
            return list((await conn.execute(stmt.limit(limit))).all())
        found: list[Any] = []
        while len(found) < limit:
            page = list((await conn.execute(stmt.limit(SITE_PAGE))).all())
            found.extend(row for row in page if site in sites(row))
            if len(page) < SITE_PAGE:
                break
            stmt = stmt.where(incidents.c.id < page[-1].id)
        return found[:limit]


async def current_states(
    store: Reader, monitor: HeldStates
) -> dict[str, tuple[CheckState, Mapping[str, Any]]]:
    """Every check's state: the store's, unless this daemon's monitor holds a newer one.

    The database is the truth, but the monitor writes states that did not change a hard
    status (soft steps, a repeated ok) only at its next flush (`Monitor.flush_loop`, once a
    second), and a hard change is in its memory before the engine's group commit
    (store/groupcommit.py) has written it. Reading the store alone could therefore show a
    state older than the one /metrics and the running checks already act on. So the state
    with the later `last_check_at` wins, and memory on a tie (a dependant cascaded to
    unreachable keeps its time); the store wins when another node sharing the database
    (PostgreSQL) ran the check more recently, or when this daemon never ran it.
    """
    stored = await stored_states(store)
    for name, held in monitor.states.items():  # no await in this loop: nothing changes it
        known = stored.get(name)
        if known is None or _not_older(held, known[0]):
            stored[name] = (held, monitor.extra.get(name, {}))
    return stored


async def stored_states(store: Reader) -> dict[str, tuple[CheckState, Mapping[str, Any]]]:
    """The `check_states` table, STATE_PAGE rows at a time, letting the loop run between."""
    async with store.read() as conn:
        return dict(await state_store.load(conn, page=STATE_PAGE))


def _not_older(held: CheckState, stored: CheckState) -> bool:
    if stored.last_check_at is None:
        return True
    return held.last_check_at is not None and held.last_check_at >= stored.last_check_at


def check_json(cfg: CheckConfig, state: CheckState, extra: Mapping[str, Any]) -> dict[str, Any]:
    """A configured check and its state. A check that has not run yet has no stored state:
    it is shown as the state machine starts it (`CheckState()`: hard ok, no `since`), with
    `last_status` and `last_check_at` null."""
    return {
        "name": cfg.name,
        "type": cfg.type,
        "enabled": cfg.enabled,
        "description": cfg.description,
        "labels": dict(cfg.labels),
        "interval": format_duration(cfg.interval),
        "depends_on": list(cfg.depends_on),
        "depends_on_any": list(cfg.depends_on_any),
        "status": state.status.value,
        "hard": state.hard,
        "attempts": state.attempts,
        "pending": state.pending.value if state.pending else None,
        "since": rfc3339(state.since),
        "last_status": state.last_status.value if state.last_status else None,
        "last_summary": state.last_summary,
        "last_check_at": rfc3339(state.last_check_at),
        "flapping": state.flapping,
        "last_duration": _finite(extra.get("duration")),
        "measurements": _measurements(extra.get("measurements")),
    }


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity (a plugin's perfdata may hold them): those become null."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _measurements(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if values is None else {k: _finite(v) for k, v in values.items()}


def quiet_json(
    times: QuietTimes | None, check: str, labels: Mapping[str, str], now: datetime
) -> dict[str, Any] | None:
    """`quiet` of a check or incident: null, or why it is in maintenance and until when."""
    found = times.of(check, labels, now) if times is not None else None
    return found.to_json() if found is not None else None


def _checks_body(
    rows: list[tuple[CheckConfig, CheckState, Mapping[str, Any]]],
    statuses: set[str] | None,
    labels: Mapping[str, str],
    times: QuietTimes | None = None,
    now: datetime | None = None,
) -> str:
    at = now or datetime.now(UTC)
    out = (
        {**check_json(cfg, state, extra), "quiet": quiet_json(times, cfg.name, cfg.labels, at)}
        for cfg, state, extra in rows
        if (statuses is None or state.status.value in statuses)
        and all(cfg.labels.get(key) == value for key, value in labels.items())
    )
    return _dumps("checks", out)


def _incidents_body(
    rows: list[Any], times: QuietTimes | None = None, now: datetime | None = None
) -> str:
    at = now or datetime.now(UTC)

    def shown(row: Any) -> dict[str, Any]:
        is_open = row.status in OPEN_STATUSES
        quiet = quiet_json(times, row.check, row.labels or {}, at) if is_open else None
        return {**incident_json(row), "quiet": quiet}

    return _dumps("incidents", (shown(row) for row in rows))


def _dumps(key: str, items: Iterable[dict[str, Any]]) -> str:
    """`{"<key>": [items]}` as compact JSON, encoded item by item: one json.dumps of the
    whole body holds the GIL until it is done (a stall as long as the listing is large),
    while between items the loop's thread can take it back."""
    encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
    return f"{{{encode(key)}:[{','.join(encode(item) for item in items)}]}}"


async def _reply(render: Callable[..., str], *args: Any) -> Response:
    """`render(*args)` as a JSON response, built in a thread: a large listing takes a long
    time to turn into JSON, and in a thread the loop gets the GIL back every switch
    interval and keeps running checks. Everything handed over is immutable (frozen configs
    and states, rows) or no longer changed by the loop (a result's measurements)."""
    content = await asyncio.to_thread(render, *args)
    return Response(content, media_type="application/json")


def routes(services: ListingServices) -> list[Route]:
    """The listing routes, bound to the services they use (the config is read per request,
    so a reload's tokens and checks apply at once)."""

    async def incidents_listing(request: Request) -> Response:
        refused = require_read_token(request, services.tokens(), "listing incidents")
        if refused is not None:
            return refused
        try:
            params = _params(request, INCIDENT_PARAMS)
            status = _one(params, "status", INCIDENT_PARAMS)
            statuses = (
                set(OPEN_STATUSES)
                if status is None
                else _statuses(status, INCIDENT_STATUSES, INCIDENT_ALIASES)
            )
            check = _one(params, "check", INCIDENT_PARAMS)
            site = _one(params, "site", INCIDENT_PARAMS)
            category = _one(params, "category", INCIDENT_PARAMS)
            limit = _limit(_one(params, "limit", INCIDENT_PARAMS))
        except BadParameter as bad:
            return bad.response()
        rows = await select_incidents(services.store, statuses, check, site, limit, category)
        now = datetime.now(UTC)
        times = await services.quiet(now) if services.quiet is not None else None
        return await _reply(_incidents_body, rows, times, now)

    async def checks_listing(request: Request) -> Response:
        refused = require_read_token(request, services.tokens(), "listing checks")
        if refused is not None:
            return refused
        try:
            params = _params(request, CHECK_PARAMS)
            status = _one(params, "status", CHECK_PARAMS)
            statuses = None if status is None else _statuses(status, CHECK_STATUSES, {})
            labels = _labels(params.get("label", []))
        except BadParameter as bad:
            return bad.response()
        states = await current_states(services.store, services.held)
        never_ran: tuple[CheckState, Mapping[str, Any]] = (CheckState(), {})
        rows = [(cfg, *states.get(cfg.name, never_ran)) for cfg in services.checks()]
        now = datetime.now(UTC)
        times = await services.quiet(now) if services.quiet is not None else None
        return await _reply(_checks_body, rows, statuses, labels, times, now)

    return [
        Route("/api/v1/incidents", incidents_listing, methods=["GET"]),
        Route("/api/v1/checks", checks_listing, methods=["GET"]),
    ]
