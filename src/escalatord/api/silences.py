"""Run-time silences over HTTP, as `escalatord silence` manages them (quiet/silences.py).

    GET    /api/v1/silences[?all=true]   in force or to come (all: ended and removed too);
                                         a read or write token
    POST   /api/v1/silences              add one; a write token. JSON body:
           {"match": {"site": "boston"}, "match_re": {...}, "checks": ["router-a"],
            "duration": "2h" | "ends_at": "2026-12-24T18:00:00Z", "starts_at": (default now),
            "reason": "fibre works", "created_by": "alice"}
    DELETE /api/v1/silences/<id>[?by=P]  end it now, keeping its row; a write token

Answers: 200 (201 for POST) with the silence (`{"silence": {...}}`) or `{"silences": [...]}`;
400 naming the field and the fix; 404 for an unknown or removed silence; 401/403 as every
route (api/auth.py). The daemon reads the stored silences, so a change applies at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from escalatord.api.auth import ReadTokens, error, require_read_token, require_write_token
from escalatord.api.body import BadBody, read_json
from escalatord.api.listings import Reader
from escalatord.core.durations import parse_duration
from escalatord.core.quiet import Cover
from escalatord.errors import NotFound
from escalatord.quiet import silences


class Writer(Reader):
    """The store's readers and writers (store/db.py `Store`)."""

    def write(self) -> Any: ...


@dataclass(frozen=True)
class SilenceServices:
    """What the silence routes use: the store and the config's [api] tokens (read per
    request, so a reload's tokens apply at once)."""

    store: Writer
    tokens: Callable[[], ReadTokens]
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


class _Bad(Exception):
    pass


_OBJECT = (
    'the body must be a JSON object, e.g. {"match": {"site": "boston"}, "duration": "2h", '
    '"reason": "works", "created_by": "alice"}'
)


def _instant(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise _Bad(f'{field}: give an RFC 3339 time, e.g. "2026-12-24T18:00:00Z"')
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise _Bad(
            f'{field}: {value!r} is not an RFC 3339 time, e.g. "2026-12-24T18:00:00Z"'
        ) from None
    if when.tzinfo is None:
        raise _Bad(f'{field}: give the time with its offset or Z, e.g. "2026-12-24T18:00:00Z"')
    return when.astimezone(UTC)


def _cover(data: dict[str, Any]) -> Cover:
    match, match_re, checks = (
        data.get("match", {}),
        data.get("match_re", {}),
        data.get("checks", []),
    )
    if not isinstance(match, dict) or not all(
        isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v))
        for v in match.values()
    ):
        raise _Bad('match: an object of label values, e.g. {"site": "boston"}')
    if not isinstance(match_re, dict) or not all(isinstance(v, str) for v in match_re.values()):
        raise _Bad('match_re: an object of regular expressions, e.g. {"host": "db-.*"}')
    if not isinstance(checks, list) or not all(isinstance(c, str) for c in checks):
        raise _Bad('checks: a list of check names, e.g. ["router-a"]')
    return Cover(
        {k: v if isinstance(v, str) else tuple(v) for k, v in match.items()},
        dict(match_re),
        tuple(checks),
    )


def _times(data: dict[str, Any], now: datetime) -> tuple[datetime, datetime]:
    start = _instant(data["starts_at"], "starts_at") if "starts_at" in data else now
    if ("duration" in data) == ("ends_at" in data):
        raise _Bad('say how long: give "duration" (e.g. "2h") or "ends_at", one of the two')
    if "ends_at" in data:
        return start, _instant(data["ends_at"], "ends_at")
    try:
        length = parse_duration(data["duration"])
    except (ValueError, TypeError) as exc:
        raise _Bad(f'duration: {exc}; e.g. "2h"') from None
    if length <= timedelta(0):
        raise _Bad('duration: must be longer than 0s, e.g. "2h"')
    return start, start + length


def _text(data: dict[str, Any], field: str, hint: str) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"{field}: required, {hint}")
    return value.strip()


def routes(services: SilenceServices) -> list[Route]:
    """The silence routes, bound to the services they use."""

    async def listing(request: Request) -> Response:
        refused = require_read_token(request, services.tokens(), "listing silences")
        if refused is not None:
            return refused
        everything = request.query_params.get("all", "false").lower() in ("true", "1", "yes")
        async with services.store.read() as conn:
            rows = await silences.listed(conn, now=services.clock(), everything=everything)
        return JSONResponse({"silences": [row.to_json() for row in rows]})

    async def add(request: Request) -> Response:
        refused = require_write_token(request, services.tokens().write_tokens, "adding silences")
        if refused is not None:
            return refused
        try:
            data = await read_json(request)
        except BadBody as exc:
            return exc.response
        now = services.clock()
        try:
            if not isinstance(data, dict):
                raise _Bad(_OBJECT)
            cover = _cover(data)
            start, end = _times(data, now)
            reason = _text(data, "reason", 'why, e.g. "fibre works"')
            by = _text(data, "created_by", 'who adds it, e.g. "alice"')
            async with services.store.write() as conn:
                row = await silences.add(conn, cover, start, end, reason=reason, now=now, by=by)
        except (_Bad, ValueError) as exc:
            return error(400, str(exc))
        return JSONResponse({"silence": row.to_json()}, status_code=201)

    async def remove(request: Request) -> Response:
        what = "removing silences"
        refused = require_write_token(request, services.tokens().write_tokens, what)
        if refused is not None:
            return refused
        raw = request.path_params["silence_id"]
        if not raw.isdigit():
            return error(404, f"no silence {raw!r}: ids are numbers (GET /api/v1/silences)")
        by = request.query_params.get("by") or "api"
        try:
            async with services.store.write() as conn:
                row = await silences.remove(conn, int(raw), now=services.clock(), by=by)
        except NotFound as exc:
            return error(404, str(exc))
        return JSONResponse({"silence": row.to_json()})

    return [
        Route("/api/v1/silences", listing, methods=["GET"]),
        Route("/api/v1/silences", add, methods=["POST"]),
        Route("/api/v1/silences/{silence_id}", remove, methods=["DELETE"]),
    ]
