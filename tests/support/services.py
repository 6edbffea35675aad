"""Loopback stand-ins for Slack, Microsoft Teams, PagerDuty, ntfy and Twilio: what they share.

Each is an `HttpTarget` that checks every request against the service's documented API and
answers as the service does: its success reply for a valid request, its error reply (and an
entry in `.invalid`) otherwise. Faults queued with `then(Reply(...))` are served first, as
usual. What is checked, per service, is in each one's module: slack_service.py,
teams_service.py, pagerduty_service.py, ntfy_service.py, twilio_service.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.support.http_target import HttpTarget, Reply, Request

Check = Callable[[Request], tuple[Reply, list[str]]]


class ServiceSink(HttpTarget):
    """An HttpTarget whose standing answer comes from `check(request)`."""

    def __init__(self, check: Check):
        super().__init__()
        self.check = check
        self.invalid: list[tuple[Request, list[str]]] = []
        self.accepted: list[Request] = []

    def _record(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            self._arrived.notify_all()
            if self._queue:
                return self._queue.pop(0)
        reply, problems = self.check(request)
        with self._lock:
            if problems:
                self.invalid.append((request, problems))
            else:
                self.accepted.append(request)
        return reply


def json_body(request: Request) -> tuple[Any, list[str]]:
    if "application/json" not in request.headers.get("Content-Type", ""):
        return None, [f"Content-Type is {request.headers.get('Content-Type')!r}, not JSON"]
    try:
        return json.loads(request.body), []
    except ValueError as exc:
        return None, [f"body is not JSON: {exc}"]
