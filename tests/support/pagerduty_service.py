"""A loopback stand-in for PagerDuty's Events API v2 (see services.py).

What is checked: routing_key (32), event_action trigger|acknowledge|resolve, dedup_key <= 255
(required unless trigger), trigger payload summary <= 1024, source, severity
critical|error|warning|info, optional fields of the right types, links/images. Success: 202
{"status": "success", ...}; errors: 400 {"status": "invalid event", ...}. `.alerts[dedup_key]`
follows each alert's state.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from tests.support.http_target import Reply, Request
from tests.support.services import ServiceSink, json_body

PD_TOP = {"routing_key", "event_action", "dedup_key", "payload", "images", "links", "client"}
PD_TOP |= {"client_url"}
PD_PAYLOAD = {"summary", "source", "severity", "timestamp", "component", "group", "class"}
PD_PAYLOAD |= {"custom_details"}


class PagerDutySink(ServiceSink):
    def __init__(self) -> None:
        super().__init__(self._check)
        self.alerts: dict[str, str] = {}
        self._alerts_lock = threading.Lock()

    def _check(self, request: Request) -> tuple[Reply, list[str]]:
        body, problems = json_body(request)
        if not problems:
            problems = check_pagerduty_event(body)
        if problems:
            reply = {"status": "invalid event", "message": "Event object is invalid"}
            return Reply(400, json.dumps({**reply, "errors": problems})), problems
        state = {"trigger": "triggered", "acknowledge": "acknowledged", "resolve": "resolved"}
        key = body.get("dedup_key") or f"generated-{len(self.alerts)}"
        with self._alerts_lock:
            if body["event_action"] == "trigger" or key in self.alerts:
                self.alerts[key] = state[body["event_action"]]
        reply = {"status": "success", "message": "Event processed", "dedup_key": key}
        return Reply(202, json.dumps(reply), {"Content-Type": "application/json"}), []


def check_pagerduty_event(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["body is not a JSON object"]
    problems = [f"unknown key {k!r}" for k in set(body) - PD_TOP]
    if not re.match(r"^[A-Za-z0-9]{32}$", str(body.get("routing_key", ""))):
        problems.append("routing_key: must be a 32-character integration key")
    action = body.get("event_action")
    if action not in ("trigger", "acknowledge", "resolve"):
        problems.append(f"event_action {action!r}")
    key = body.get("dedup_key")
    if key is not None and (not isinstance(key, str) or not 0 < len(key) <= 255):
        problems.append("dedup_key: a string of 1 to 255 characters")
    if action in ("acknowledge", "resolve") and not key:
        problems.append(f"dedup_key is required to {action}")
    if action == "trigger":
        payload = body.get("payload")
        if not isinstance(payload, dict):
            return [*problems, "payload is required for trigger"]
        problems += [f"payload: unknown key {k!r}" for k in set(payload) - PD_PAYLOAD]
        summary = payload.get("summary")
        if not isinstance(summary, str) or not 0 < len(summary) <= 1024:
            problems.append("payload.summary: 1 to 1024 characters")
        if not isinstance(payload.get("source"), str) or not payload["source"]:
            problems.append("payload.source is required")
        if payload.get("severity") not in ("critical", "error", "warning", "info"):
            problems.append(f"payload.severity {payload.get('severity')!r}")
        for name in ("timestamp", "component", "group", "class"):
            if name in payload and not isinstance(payload[name], str):
                problems.append(f"payload.{name} must be a string")
        if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
            problems.append("payload.custom_details must be an object")
    for i, link in enumerate(body.get("links", [])):
        if not isinstance(link, dict) or not isinstance(link.get("href"), str):
            problems.append(f"links[{i}].href is required")
        elif set(link) - {"href", "text"}:
            problems.append(f"links[{i}]: only href and text")
    return problems
