"""A loopback stand-in for an ntfy server's publish API (see services.py).

What is checked: POST/PUT /<topic>; X-Title, X-Priority (1-5 or its names), X-Tags, X-Click,
X-Actions (<= 3, "view, label, url[, clear=true]"), RFC 2047 values decoded; body <= 4096
bytes; auth Bearer or Basic when a token is set. Success: 200 message JSON.
"""

from __future__ import annotations

import json
import re
from email.header import decode_header, make_header
from typing import Any

from tests.support.http_target import Reply, Request
from tests.support.services import ServiceSink

NTFY_PRIORITIES = {"1", "2", "3", "4", "5", "min", "low", "default", "high", "urgent", "max"}


def ntfy_header(request: Request, *names: str) -> str | None:
    """A publish header by any of its aliases, RFC 2047-decoded."""
    lowered = {k.lower(): v for k, v in request.headers.items()}
    for name in names:
        if name.lower() in lowered:
            return str(make_header(decode_header(lowered[name.lower()])))
    return None


def ntfy_actions(value: str) -> list[list[str]]:
    """Split the simple X-Actions format into actions and their comma-separated parts."""
    actions = []
    for chunk in re.findall(r'(?:[^;"\']|"[^"]*"|\'[^\']*\')+', value):
        parts = re.findall(r'(?:[^,"\']|"[^"]*"|\'[^\']*\')+', chunk)
        actions.append([p.strip().strip("\"'") for p in parts])
    return actions


class NtfySink(ServiceSink):
    def __init__(self, token: str | None = None):
        super().__init__(self._check)
        self.token = token
        self.messages: list[dict[str, Any]] = []  # as ntfy stores and shows them

    def _check(self, request: Request) -> tuple[Reply, list[str]]:
        problems = []
        topic = request.path.lstrip("/")
        if request.method not in ("POST", "PUT"):
            problems.append(f"method {request.method}")
        if not re.match(r"^[-_A-Za-z0-9]{1,64}$", topic):
            problems.append(f"topic {topic!r} is not valid")
        if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
            body = {"code": 40301, "http": 403, "error": "forbidden"}
            return Reply(403, json.dumps(body)), ["wrong or missing access token"]
        priority = ntfy_header(request, "X-Priority", "Priority", "prio", "p")
        if priority is not None and priority not in NTFY_PRIORITIES:
            problems.append(f"priority {priority!r}")
        actions = ntfy_header(request, "X-Actions", "Actions", "Action")
        parsed = ntfy_actions(actions) if actions else []
        if len(parsed) > 3:
            problems.append("at most 3 actions")
        for action in parsed:
            if action[0] != "view" or len(action) < 3 or not action[2].startswith("http"):
                problems.append(f"action {action!r}: view, label, url")
            if any("=" in p and p.split("=")[0] not in ("clear", "url") for p in action[3:]):
                problems.append(f"action {action!r}: unknown parameter")
        if len(request.body) > 4096:
            problems.append("message longer than 4096 bytes")
        try:
            message = request.body.decode("utf-8")
        except UnicodeDecodeError:
            problems.append("message is not UTF-8")
            message = ""
        if problems:
            body = {"code": 40001, "http": 400, "error": "; ".join(problems)}
            return Reply(400, json.dumps(body)), problems
        tags = ntfy_header(request, "X-Tags", "Tags", "tag", "ta")
        stored = {
            "id": f"m{len(self.accepted)}",
            "event": "message",
            "topic": topic,
            "title": ntfy_header(request, "X-Title", "Title", "t"),
            "message": message,
            "priority": priority,
            "tags": tags.split(",") if tags else [],
            "click": ntfy_header(request, "X-Click", "Click"),
            "actions": parsed,
        }
        self.messages.append(stored)
        return Reply(200, json.dumps(stored), {"Content-Type": "application/json"}), []
