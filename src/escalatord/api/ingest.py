"""Alert ingest: other tools raise incidents through escalatord's rules and policies.

`POST /api/v1/alerts/alertmanager` takes Prometheus Alertmanager's webhook payload (version 4):
each alert is deduplicated by its fingerprint (or, without one, by its labels); `firing` opens
or updates an incident, `resolved` resolves it. Labels become the incident's labels (plus
`ingest = "alertmanager"`), the `alertname` label is the name rules see as "check", and the
annotations `summary`/`description` and `runbook_url` become the summary and runbook.
The `severity` label picks the status rules match: warning/warn/info/low → warning, anything
else → critical. Authentication: a bearer token from `[api] write_tokens`. Alerts are judged
one by one: a bad alert (a missing field, a label that is not text) is rejected, named in the
reply's `rejected` and in the log, and the valid alerts of the same batch are raised, so
Alertmanager does not resend a batch for ever over one alert. Only a batch with no valid
alert is a 400.

`POST /api/v1/events/pagerduty` takes PagerDuty Events API v2 events (`routing_key`,
`event_action` trigger/acknowledge/resolve, `dedup_key`, `payload.summary/source/severity`),
so anything that can page PagerDuty can page escalatord. The routing key must be one of
`[api] routing_keys` (or the request carries a write token, checked before the body is read;
a body that cannot be read, so has no key to check, is a 400). `payload.source` is the name
rules see; labels are `ingest = "pagerduty"`, `source`, `severity` and, when given,
`component`, `group` and `class`. The reply is PagerDuty's: 202 with the `dedup_key`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from escalatord.api.auth import bearer, error, require_write_token, token_matches
from escalatord.api.body import BadBody, problem, read_json
from escalatord.core.alerts import AlertOutcome, ExternalAlert
from escalatord.core.status import Status

log = structlog.get_logger("escalatord.api")
NAME_MAX = 200  # the incidents.check column
WARNING_SEVERITIES = {"warning", "warn", "info", "informational", "low", "minor"}


class IngestTokens(Protocol):
    """The `[api]` keys that may send alerts and events (the config's `ApiConfig` is one)."""

    @property
    def write_tokens(self) -> tuple[str, ...]: ...

    @property
    def routing_keys(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class IngestServices:
    """What the ingest routes use: where alerts go, and the keys that may send them."""

    submit: Callable[[list[ExternalAlert]], Awaitable[Sequence[AlertOutcome]]]  # Engine.on_alerts
    # Called on every request, so a reload's tokens and keys apply at once.
    tokens: Callable[[], IngestTokens]


class _Lenient(BaseModel):
    # Senders add fields over time; only what escalatord reads is validated. Fields are read
    # by their wire names only (`class`, not `class_`).
    model_config = ConfigDict(extra="allow")


class AmAlert(_Lenient):
    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    fingerprint: str = ""


class AmBatch(_Lenient):
    alerts: list[Any]  # each judged on its own (judge_alerts): one bad alert spoils no other


class PdPayload(_Lenient):
    summary: str = Field(min_length=1, max_length=1024)
    source: str = Field(min_length=1, max_length=255)
    severity: Literal["critical", "error", "warning", "info"]
    component: str | None = None
    group: str | None = None
    class_: str | None = Field(default=None, alias="class")


class PdEvent(_Lenient):
    routing_key: str = Field(min_length=1)
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(default=None, min_length=1, max_length=255)
    payload: PdPayload | None = None
    client: str | None = None


def problems(exc: ValidationError, prefix: str = "") -> list[str]:
    """Readable validation errors: `alerts[2].status: Input should be 'firing' or 'resolved'`
    (`prefix` names what was validated, e.g. `alerts[2]`)."""
    out = []
    for err in exc.errors(include_url=False, include_context=False, include_input=False):
        path = prefix
        for part in err["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
        out.append(f"{path or 'body'}: {err['msg']}")
    return out


def status_of(severity: str | None) -> Status:
    return Status.WARNING if (severity or "").lower() in WARNING_SEVERITIES else Status.CRITICAL


def judge_alerts(items: list[Any]) -> tuple[list[AmAlert], list[dict[str, Any]]]:
    """The valid alerts of a batch, and one `{"alert": n, "reason": …}` per rejected one (n
    counts from 0, like every index escalatord shows; the reason names the field, and quotes no
    string that is not text, so it is safe to log and to echo)."""
    valid, rejected = [], []
    for n, item in enumerate(items):
        where = f"alerts[{n}]"
        found = problem(item, where)
        if found is None:
            try:
                valid.append(AmAlert.model_validate(item))
                continue
            except ValidationError as exc:
                found = "; ".join(problems(exc, where)[:5])
        rejected.append({"alert": n, "reason": found})
    return valid, rejected


def alertmanager_alerts(alerts: list[AmAlert]) -> list[ExternalAlert]:
    out = []
    for alert in alerts:
        labels = {**alert.labels, "ingest": "alertmanager"}
        name = (alert.labels.get("alertname") or "alertmanager-alert")[:NAME_MAX]
        fingerprint = (
            alert.fingerprint
            or hashlib.sha256(json.dumps(sorted(alert.labels.items())).encode()).hexdigest()[:16]
        )
        notes = alert.annotations
        headline = notes.get("summary", "")
        summary = notes.get("description") or headline or f"{name} is {alert.status}"
        out.append(
            ExternalAlert(
                key=f"alertmanager:{fingerprint}",
                name=name,
                action="trigger" if alert.status == "firing" else "resolve",
                source="alertmanager",
                status=status_of(alert.labels.get("severity")),
                title=f"{name}: {headline}" if headline else f"{name} is firing",
                summary=summary,
                labels=labels,
                runbook=notes.get("runbook_url") or notes.get("runbook") or "",
            )
        )
    return out


def pagerduty_alert(event: PdEvent, dedup_key: str) -> ExternalAlert:
    source = "pagerduty" + (f":{event.client}" if event.client else "")
    payload = event.payload
    if payload is None:  # acknowledge and resolve need only the key
        return ExternalAlert(
            key=f"pagerduty:{dedup_key}", name="", action=event.event_action, source=source
        )
    labels = {"ingest": "pagerduty", "source": payload.source, "severity": payload.severity}
    for key, value in (
        ("component", payload.component),
        ("group", payload.group),
        ("class", payload.class_),
    ):
        if value:
            labels[key] = value
    return ExternalAlert(
        key=f"pagerduty:{dedup_key}",
        name=payload.source[:NAME_MAX],
        action=event.event_action,
        source=source,
        status=status_of(payload.severity),
        title=payload.summary,
        summary=payload.summary,
        labels=labels,
    )


def routes(services: IngestServices) -> list[Route]:
    """The ingest routes, bound to the services they use."""

    async def alertmanager(request: Request) -> JSONResponse:
        refused = require_write_token(request, services.tokens().write_tokens, "alert ingest")
        if refused is not None:
            return refused
        try:  # strings are judged per alert: a bad one must not refuse the whole batch
            data = await read_json(request, text=False)
        except BadBody as exc:
            return exc.response
        try:
            batch = AmBatch.model_validate(data)
        except ValidationError as exc:
            found = problems(exc)
            return error(400, "not an Alertmanager webhook payload: " + "; ".join(found[:5]))
        alerts, rejected = judge_alerts(batch.alerts)
        for bad in rejected:
            log.warning("alert_rejected", ingest="alertmanager", **bad)
        if rejected and not alerts:
            reasons = "; ".join(r["reason"] for r in rejected[:5])
            return error(400, f"no valid alert in the batch: {reasons}", rejected=rejected)
        outcomes = await services.submit(alertmanager_alerts(alerts))
        counts: dict[str, int] = {}
        for done in outcomes:
            counts[done.outcome] = counts.get(done.outcome, 0) + 1
        incidents = sorted({str(o.incident) for o in outcomes if o.incident is not None})
        reply: dict[str, Any] = {"received": len(batch.alerts), **counts, "incidents": incidents}
        if rejected:
            reply["rejected"] = rejected
        return JSONResponse(reply)

    async def pagerduty(request: Request) -> JSONResponse:
        api = services.tokens()
        if not api.routing_keys and not api.write_tokens:
            return error(
                403,
                "event ingest is off: set [api] routing_keys (or write_tokens) in the config",
            )
        token = bearer(request)  # the header's credential is checked before the body is read
        by_token = token is not None and token_matches(token, api.write_tokens)
        try:
            data = await read_json(request)
        except BadBody as exc:
            return exc.response
        key = data.get("routing_key") if isinstance(data, dict) else None
        key = key if isinstance(key, str) and key else None
        by_key = key is not None and token_matches(key, api.routing_keys)
        if not (by_token or by_key):
            if token is None and key is None:
                return error(401, "routing_key is required (or send Authorization: Bearer)")
            return error(403, "unknown routing_key" if token is None else "invalid token")
        try:
            event = PdEvent.model_validate(data)
        except ValidationError as exc:
            found = problems(exc)
            return error(400, "invalid event: " + "; ".join(found[:5]), errors=found)
        if event.event_action == "trigger" and event.payload is None:
            return error(400, "invalid event: payload is required for trigger", errors=[])
        if event.event_action != "trigger" and event.dedup_key is None:
            msg = f"invalid event: dedup_key is required for {event.event_action}"
            return error(400, msg, errors=[])
        dedup_key = event.dedup_key or uuid.uuid4().hex
        await services.submit([pagerduty_alert(event, dedup_key)])
        return JSONResponse(
            {"status": "success", "message": "Event processed", "dedup_key": dedup_key},
            status_code=202,
        )

    return [
        Route("/api/v1/alerts/alertmanager", alertmanager, methods=["POST"]),
        Route("/api/v1/events/pagerduty", pagerduty, methods=["POST"]),
    ]
