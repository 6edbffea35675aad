"""`POST`/`GET /heartbeat/<check>[/start|/fail|/<exit-code>]`: signals from jobs and interfaces.

    curl -fsS -m 10 --retry 3 -H "Authorization: Bearer $TOKEN" \\
        --data-raw "processed 120 messages" https://escalatord.example.org/heartbeat/hl7-adt-feed

The token is the check's own (`token` or `token_file`), sent as `Authorization: Bearer …` or
`?token=…`. A wrong token is refused (403) and changes nothing. A body is kept, cut to
`BODY_LIMIT` bytes, and shown in the check's summary. The signal is stored first, then judged
through the same state machine as every check result; the check's next run moves to the new
deadline, so silence after it is paged when the deadline passes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from escalatord.api.auth import BodyTooLarge, bearer, error, read_body, token_matches
from escalatord.heartbeats.check import BODY_LIMIT, HeartbeatCheck, Signal

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from escalatord.checks.base import Check, CheckConfig
    from escalatord.core.state import Params
    from escalatord.core.status import Result

log = structlog.get_logger("escalatord.api")
USAGE = "use /heartbeat/<check>, or add /start, /fail or an exit code 0-255"


class PassiveChecks(Protocol):
    """The monitor as a heartbeat sees it: its running checks, its clock, and where a
    passive check's result goes (monitor/runner.py `Monitor`)."""

    @property
    def checks(self) -> Mapping[str, Check]: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...

    async def on_passive(
        self, name: str, fed: tuple[Result, Params] | None, *, wake: datetime | None = None
    ) -> None: ...


class SignalWriter(Protocol):
    """The store's writer connection (store/db.py `Store.write`), where signals are kept."""

    def write(self) -> AbstractAsyncContextManager[AsyncConnection]: ...


@dataclass(frozen=True)
class HeartbeatServices:
    """What the heartbeat routes use: the monitor, the store's writer, and the config."""

    monitor: PassiveChecks
    store: SignalWriter
    # A check of the current config by name, enabled or not (None: no such check); called on
    # every request, so a reload applies at once. Tells "disabled" from "no such check".
    configured: Callable[[str], CheckConfig | None]


def parse_signal(text: str) -> tuple[Signal, int | None] | None:
    """The signal named by the last path segment ("" is success); None if it names none."""
    if text in ("", "success"):
        return Signal.SUCCESS, None
    if text in ("start", "fail"):
        return Signal(text), None
    if text.isdigit() and len(text) <= 3 and int(text) <= 255:
        code = int(text)
        return (Signal.SUCCESS if code == 0 else Signal.FAIL), code
    return None


def routes(services: HeartbeatServices) -> list[Route]:
    """The heartbeat routes, bound to the services they use."""
    monitor = services.monitor

    async def heartbeat(request: Request) -> JSONResponse:
        if request.method == "HEAD":  # link checkers and proxies probe with HEAD: not a signal
            return error(405, f"a heartbeat is a POST or GET; {USAGE}")
        name = request.path_params["check"]
        check = monitor.checks.get(name)
        if not isinstance(check, HeartbeatCheck):
            configured = services.configured(name)
            if configured is not None and configured.type == "heartbeat":
                return error(404, f"the heartbeat check {name!r} is disabled (enabled = false)")
            return error(404, f"no heartbeat check named {name!r}")
        given = bearer(request) or request.query_params.get("token")
        if not given:
            return error(
                401, "missing token: send Authorization: Bearer <token> or add ?token=<token>"
            )
        if not token_matches(given, (check.config.token,)):
            log.warning("heartbeat_refused", check=name, reason="wrong token")
            return error(403, f"wrong token for the heartbeat check {name!r}")
        parsed = parse_signal(request.path_params.get("signal", ""))
        if parsed is None:
            return error(400, f"unknown heartbeat signal; {USAGE}")
        signal, exit_code = parsed
        try:
            raw = await read_body(request)
        except BodyTooLarge:
            return error(413, "the body is larger than 1 MiB; send a short message")
        body = raw[:BODY_LIMIT].decode("utf-8", errors="replace").strip() or None
        now = monitor.clock()
        from escalatord.heartbeats import store as heartbeats

        async with services.store.write() as conn:
            signals = await heartbeats.record(
                conn, name, signal, now, exit_code=exit_code, body=body
            )
        judged = check.feed(signals, now, signal)
        await monitor.on_passive(name, judged.fed, wake=judged.wake)
        log.info("heartbeat", check=name, signal=signal.value, exit_code=exit_code)
        reply: dict[str, object] = {"check": name, "signal": signal.value}
        if exit_code is not None:
            reply["exit_code"] = exit_code
        if judged.fed is not None:
            reply["status"] = judged.fed[0].status.value
            reply["summary"] = judged.fed[0].summary
        return JSONResponse(reply)

    methods = ["GET", "POST"]
    return [
        Route("/heartbeat/{check}", heartbeat, methods=methods),
        Route("/heartbeat/{check}/{signal}", heartbeat, methods=methods),
    ]
