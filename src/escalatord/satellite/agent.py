"""`escalatord satellite`: run a remote site's checks and push their results to the central daemon.

The satellite runs the probes only: the same check types (`escalatord.plugins`), the same
`execute()` with its hard timeout and the same scheduler as the daemon; no engine, no
notifiers, no database of incidents. A small state machine per check (core/state.py `step`)
only chooses when a check runs next (`retry_interval` while a change is pending): whether a
result counts, pages or waits for a parent is decided by the central daemon.

Every result goes into the buffer (satellite/buffer.py) with the time it was taken; a push
every `push_every` sends the oldest (at most BATCH per request) and removes what the central
daemon answered for. While the central daemon is out of reach the results stay buffered and
pushes back off (doubling, up to ten push periods and at most MAX_BACKOFF); when it answers
again they are replayed in order, and the central daemon records the stale ones without
paging (core/relay.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable, Iterable
from typing import Any

import structlog

from escalatord import plugins
from escalatord.checks.base import Check, CheckConfig, CheckContext, execute
from escalatord.core.state import CheckState, next_delay, step
from escalatord.monitor.scheduler import CheckScheduler
from escalatord.satellite import wire
from escalatord.satellite.buffer import Buffer
from escalatord.satellite.uplink import LinkDown, Refused, Uplink

log = structlog.get_logger("escalatord.satellite")
BATCH = 500
MAX_BACKOFF = 60.0


def runnable(configs: Iterable[CheckConfig]) -> list[CheckConfig]:
    """The enabled active checks of `configs`: what a satellite can run (signals such as
    heartbeats go to the central daemon; link and relayed checks are the central daemon's)."""
    out = []
    for config in configs:
        if config.enabled and plugins.load("checks", config.type).kind == "active":
            out.append(config)
    return out


async def fetch_checks(
    uplink: Uplink, cache: str, stop: asyncio.Event, retry: float = 2.0
) -> list[CheckConfig] | None:
    """The satellite's checks from the central daemon (kept in `cache` for a start while the
    link is down); None if stopped before any were found. Sections that do not validate here
    (a plugin missing on this host) are logged and left out."""
    while not stop.is_set():
        try:
            data = await uplink.fetch_checks()
        except (LinkDown, Refused) as exc:
            log.warning("satellite_config_fetch_failed", error=str(exc))
            data = _cached(cache)
            if data is not None:
                log.warning("satellite_config_from_cache", cache=cache)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), retry)
                retry = min(retry * 2, MAX_BACKOFF)
                continue
        else:
            _keep(cache, data)
        checks = []
        for section in data.get("checks", []):
            try:
                checks.append(wire.check_from_wire(section))
            except ValueError as exc:  # pydantic's ValidationError is a ValueError
                name = section.get("name") if isinstance(section, dict) else None
                log.error("satellite_check_invalid", check=name, problem=str(exc))
        log.info("satellite_config", sites=data.get("sites"), checks=len(checks))
        return checks
    return None


def _cached(cache: str) -> dict[str, Any] | None:
    try:
        with open(cache, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _keep(cache: str, data: dict[str, Any]) -> None:
    fd = os.open(cache + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:  # it holds the checks' secrets
        json.dump(data, f)
    os.replace(cache + ".tmp", cache)


class Agent:
    def __init__(
        self,
        checks: Iterable[CheckConfig],
        buffer: Buffer,
        uplink: Uplink,
        *,
        push_every: float = 2.0,
        context: CheckContext | None = None,
    ):
        self.context = context or CheckContext()
        self.checks: dict[str, Check] = {
            c.name: plugins.load("checks", c.type)(c, self.context) for c in checks
        }
        self.buffer = buffer
        self.uplink = uplink
        self.push_every = push_every
        self.states: dict[str, CheckState] = {}
        self.scheduler = CheckScheduler(self.run_check)
        self.delivered = 0

    async def run_check(self, name: str) -> None:
        check = self.checks.get(name)
        if check is None:
            return
        result = await execute(check)
        assert result.at is not None
        config = check.config
        state, _ = step(
            name,
            self.states.get(name, CheckState()),
            result.status,
            result.summary,
            config,
            result.at,
        )
        self.states[name] = state
        self.scheduler.reschedule(name, next_delay(state, config))
        self.buffer.add([wire.result_to_wire(name, result)])

    async def push(self) -> bool:
        """Send the buffer, oldest first, until it is empty; False when the link failed."""
        while rows := self.buffer.oldest(BATCH):
            try:
                reply = await self.uplink.push([body for _, body in rows])
            except LinkDown as exc:
                log.warning("central_unreachable", error=str(exc), buffered=len(self.buffer))
                return False
            except Refused as exc:
                hint = "check --name and --token against the central [[satellite]]"
                log.error("central_refused", error=str(exc), buffered=len(self.buffer), hint=hint)
                return False
            self.buffer.remove([row_id for row_id, _ in rows])
            self.delivered += len(rows)
            for item in reply.get("results", []):
                if item.get("outcome") == "refused":
                    log.warning(
                        "result_refused", check=item.get("check"), reason=item.get("reason")
                    )
            counts = {
                k: reply.get(k, 0) for k in ("applied", "relayed", "late", "superseded", "refused")
            }
            log.info("batch_delivered", results=len(rows), left=len(self.buffer), **counts)
            if len(rows) < BATCH:
                break
        return True

    async def push_loop(self, stop: asyncio.Event) -> None:
        wait = self.push_every
        while not stop.is_set():
            ok = await self.push()
            longest = min(10 * self.push_every, MAX_BACKOFF)
            wait = self.push_every if ok else min(max(wait * 2, self.push_every), longest)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)

    async def run(self, stop: asyncio.Event, ready: Callable[[], Any] = lambda: None) -> None:
        """Run the checks and push until `stop` is set; then a last push, and close."""
        self.scheduler.set_checks(c.config for c in self.checks.values())
        self.scheduler.start()
        pusher = asyncio.create_task(self.push_loop(stop), name="push")
        log.info("satellite_started", checks=len(self.checks), buffered=len(self.buffer))
        ready()
        try:
            await stop.wait()
        finally:
            cut = await self.scheduler.shutdown(5.0)
            if cut:
                log.warning("checks_cut_short", count=cut)
            await pusher
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.push(), 5.0)  # what the last runs found
            for check in self.checks.values():
                with contextlib.suppress(Exception):
                    await check.close()
            await self.context.aclose()
            await self.uplink.aclose()
            log.info("satellite_stopped", buffered=len(self.buffer))
            self.buffer.close()
