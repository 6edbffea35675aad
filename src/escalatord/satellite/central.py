"""The central daemon's side of satellites: the routes satellites push to and fetch from.

    POST /api/v1/satellites/<name>/results   a batch of results (satellite/wire.py)
    GET  /api/v1/satellites/<name>/config    the checks of its sites, secrets included

Both need `Authorization: Bearer <the satellite's token>` ([[satellite]] token). A batch marks
the satellite heard (its link check recovers at once if it was silent), then its results are
applied in the order they were taken: each result of a check the satellite runs is fed
through the check's own state machine at its original time when it is fresh and in order,
and only recorded (a log line, the reply) when it is late or superseded (core/relay.py).
Results for checks the satellite does not run are refused one by one; the rest still count.

In a cluster a satellite may push to any node. The node applies the results of the checks it
owns; the fresh results of checks another node owns are stored for their owner ("relayed"),
which applies them in time order at its next catch-up round (satellite/shared.py). The
batch's arrival is stored too, so the owner of `satellite:<name>` judges silence from every
node's batches.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from escalatord.api.auth import BodyTooLarge, bearer, error, read_body, token_matches
from escalatord.core.relay import Fate, fate
from escalatord.core.status import Status
from escalatord.satellite import shared, wire
from escalatord.satellite.link import SatelliteLink, check_type, link_name, satellite_of

if TYPE_CHECKING:
    from escalatord.checks.base import Check, CheckConfig
    from escalatord.core.state import CheckState, Params
    from escalatord.core.status import Result
    from escalatord.store.db import Store

__all__ = ["check_type", "routes"]

log = structlog.get_logger("escalatord.satellite")
MAX_BATCH_BODY = 4 << 20  # a full batch of 1,000 results with long summaries fits


class Satellite(Protocol):
    """A `[[satellite]]` section (config/satellites.py `SatelliteConfig`)."""

    name: str
    sites: tuple[str, ...]
    token: str
    slack: Any  # timedelta


class Config(Protocol):
    """The running config as these routes read it (config/model.py `Config`)."""

    @property
    def satellites(self) -> tuple[Satellite, ...]: ...

    @property
    def checks(self) -> tuple[CheckConfig, ...]: ...


class Relay(Protocol):
    """The monitor as relayed results see it (monitor/runner.py `Monitor`)."""

    @property
    def checks(self) -> Mapping[str, Check]: ...

    @property
    def states(self) -> Mapping[str, CheckState]: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...

    @property
    def owned(self) -> set[str] | None: ...  # None: a single node, which owns every check

    @property
    def store(self) -> Store: ...

    def owns(self, name: str) -> bool: ...

    async def on_result(
        self, name: str, result: Result, *, params: Params | None = None
    ) -> None: ...

    async def on_passive(
        self, name: str, fed: tuple[Result, Params] | None, *, wake: datetime | None = None
    ) -> None: ...


def routes(monitor: Relay, config: Callable[[], Config]) -> list[Route]:
    """The satellite routes; `config` is called on every request, so a reload applies."""
    if monitor.owned is not None:  # a node of a cluster: arrivals are stored and read back
        for check in monitor.checks.values():
            if isinstance(check, SatelliteLink):
                check.arrivals.clustered = True

    def authorised(request: Request) -> Satellite | JSONResponse:
        name = request.path_params["name"]
        found = next((s for s in config().satellites if s.name == name), None)
        if found is None:
            return error(404, f"no [[satellite]] named {name!r} in the central daemon's config")
        given = bearer(request)
        if not given:
            return error(401, "missing token: send Authorization: Bearer <the satellite's token>")
        if not token_matches(given, (found.token,)):
            log.warning("satellite_refused", satellite=name, reason="wrong token")
            return error(403, f"wrong token for the satellite {name!r}")
        return found

    async def results(request: Request) -> JSONResponse:
        found = authorised(request)
        if isinstance(found, JSONResponse):
            return found
        try:
            raw = await read_body(request, MAX_BATCH_BODY)
        except BodyTooLarge:
            return error(413, f"a batch must be under {MAX_BATCH_BODY >> 20} MiB; send fewer")
        try:
            items, refusals = wire.parse_batch(json.loads(raw or b"null"))
        except (ValueError, UnicodeDecodeError) as exc:
            text = str(exc) if isinstance(exc, wire.BatchError) else "the body is not JSON"
            return error(400, text)
        now = monitor.clock()
        await _heard(monitor, found.name, now)
        served = {c.name: c for c in config().checks if satellite_of(c) == found.name}
        outcomes: list[dict[str, Any]] = [
            {"index": r.index, "check": r.check, "outcome": "refused", "reason": r.reason}
            for r in refusals
        ]
        held: list[tuple[str, Result]] = []
        for item in sorted_by_time(items):
            outcomes.append(await _apply(monitor, found, served, item, now, held))
        if monitor.owned is not None:  # a cluster: the other nodes see this batch
            try:
                async with monitor.store.write() as conn:
                    await shared.store_batch(conn, found.name, now, held)
            except Exception as exc:
                log.warning("satellite_batch_unstored", satellite=found.name, error=repr(exc))
                return error(503, "the database is out of reach: keep the batch and send it again")
        outcomes.sort(key=lambda o: o["index"])
        counts = Counter(o["outcome"] for o in outcomes)
        log.info("satellite_batch", satellite=found.name, **{k: counts[k] for k in sorted(counts)})
        reply: dict[str, Any] = {"satellite": found.name}
        reply.update({fate.value: counts[fate.value] for fate in _REPLY})
        reply.update(refused=counts["refused"], results=outcomes)
        return JSONResponse(reply)

    async def checks(request: Request) -> JSONResponse:
        found = authorised(request)
        if isinstance(found, JSONResponse):
            return found
        served = [c for c in config().checks if satellite_of(c) == found.name and c.enabled]
        log.info("satellite_config_fetched", satellite=found.name, checks=len(served))
        return JSONResponse(
            {
                "satellite": found.name,
                "sites": list(found.sites),
                "checks": [wire.check_to_wire(c) for c in served],
            }
        )

    return [
        Route("/api/v1/satellites/{name}/results", results, methods=["POST"]),
        Route("/api/v1/satellites/{name}/config", checks, methods=["GET"]),
    ]


_REPLY = (Fate.APPLIED, Fate.LATE, Fate.SUPERSEDED, Fate.RELAYED)


async def _heard(monitor: Relay, satellite: str, now: datetime) -> None:
    """Mark `satellite` heard; its link check recovers at once if it was not ok."""
    link = monitor.checks.get(link_name(satellite))
    if not isinstance(link, SatelliteLink):
        return
    link.arrivals.touch(satellite, now)
    if monitor.owned is not None:
        link.arrivals.clustered = True
    state = monitor.states.get(link.name)
    if state is None or state.status is not Status.OK or not state.hard:
        judged = link.judge(now)
        await monitor.on_passive(link.name, judged.fed, wake=judged.wake)


async def _apply(
    monitor: Relay,
    satellite: Satellite,
    served: Mapping[str, CheckConfig],
    item: wire.Item,
    now: datetime,
    held: list[tuple[str, Result]],
) -> dict[str, Any]:
    """Apply or record one result, or add it to `held` for the check's owner (another node
    of the cluster); its outcome for the reply."""
    out: dict[str, Any] = {"index": item.index, "check": item.check}
    config = served.get(item.check)
    if config is None:
        why = "no such check" if item.check not in monitor.checks else "not one of its checks"
        sites = ", ".join(satellite.sites)
        reason = f"{why}: the {satellite.name} satellite runs the checks of sites {sites}"
        return {**out, "outcome": "refused", "reason": reason}
    if item.check not in monitor.checks:
        return {**out, "outcome": "refused", "reason": "the check is disabled"}
    result = item.result
    assert result.at is not None
    owned = monitor.owns(item.check)
    state = monitor.states.get(item.check) if owned else None
    # Another node owns the check: whether it is in order is for the owner to say.
    last = state.last_check_at if state is not None else None
    verdict = fate(result.at, now, last, config.interval, satellite.slack)
    if verdict is Fate.FUTURE:
        reason = "taken in the future: is the satellite's clock right? (NTP)"
        return {**out, "outcome": "refused", "reason": reason}
    if verdict is Fate.APPLIED and not owned:
        held.append((item.check, result))
        verdict = Fate.RELAYED
    elif verdict is Fate.APPLIED:
        await monitor.on_result(item.check, result)
    else:
        # For the record only: a buffered result replayed after its time never pages.
        log.info(
            "satellite_result_recorded",
            satellite=satellite.name,
            check=item.check,
            fate=verdict.value,
            status=result.status.value,
            summary=result.summary,
            at=result.at.isoformat(),
        )
    return {**out, "outcome": verdict.value}


def sorted_by_time(items: Sequence[wire.Item]) -> list[wire.Item]:
    """Items in the order they were taken (ties: batch order)."""
    return sorted(items, key=lambda i: (i.result.at, i.index))
