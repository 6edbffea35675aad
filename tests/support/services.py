"""Loopback stand-ins for Slack, Microsoft Teams, PagerDuty, ntfy and Twilio.

Each is an `HttpTarget` that checks every request against the service's documented API and
answers as the service does: its success reply for a valid request, its error reply (and an
entry in `.invalid`) otherwise. Faults queued with `then(Reply(...))` are served first, as
usual. What is checked, per service:

- Slack incoming webhook + Block Kit: JSON object with a fallback `text`; blocks of known
  types within Block Kit's limits (header plain_text <= 150, section text <= 3000, <= 10
  fields of <= 2000, buttons: plain_text <= 75, url <= 3000, unique action_id <= 255, style
  primary|danger; <= 50 blocks). Success: 200 "ok"; errors: 400 "invalid_blocks", "no_text".
- Teams (Workflows webhook / Incoming Webhook): {"type": "message", "attachments": [...]} with
  Adaptive Cards (contentType application/vnd.microsoft.card.adaptive, type AdaptiveCard,
  version <= 1.5, known element types and enum values, Action.OpenUrl with absolute url;
  Action.Submit is not supported there). Success: 202.
- PagerDuty Events API v2: routing_key (32), event_action trigger|acknowledge|resolve,
  dedup_key <= 255 (required unless trigger), trigger payload summary <= 1024, source,
  severity critical|error|warning|info, optional fields of the right types, links/images.
  Success: 202 {"status": "success", ...}; errors: 400 {"status": "invalid event", ...}.
  `.alerts[dedup_key]` follows each alert's state.
- ntfy publish: POST/PUT /<topic>; X-Title, X-Priority (1-5 or its names), X-Tags, X-Click,
  X-Actions (<= 3, "view, label, url[, clear=true]"), RFC 2047 values decoded; body <= 4096
  bytes; auth Bearer or Basic when a token is set. Success: 200 message JSON.
- Twilio Messages: POST /2010-04-01/Accounts/<AC…>/Messages.json, form-encoded, basic auth
  with that account SID and the token; To in E.164, From or MessagingServiceSid, Body
  <= 1600 characters. Success: 201 Message resource; errors: Twilio's JSON error codes.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable
from email.header import decode_header, make_header
from typing import Any
from urllib.parse import parse_qs

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


def _json(request: Request) -> tuple[Any, list[str]]:
    if "application/json" not in request.headers.get("Content-Type", ""):
        return None, [f"Content-Type is {request.headers.get('Content-Type')!r}, not JSON"]
    try:
        return json.loads(request.body), []
    except ValueError as exc:
        return None, [f"body is not JSON: {exc}"]


# ---- Slack ----------------------------------------------------------------------------------

SLACK_TOP = {"text", "blocks", "attachments", "thread_ts", "mrkdwn", "unfurl_links", "unfurl_media"}


def _slack_text(obj: Any, where: str, limit: int, plain_only: bool = False) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        return [f"{where}: not a text object"]
    if plain_only and obj["type"] != "plain_text":
        return [f"{where}: must be plain_text"]
    extra = set(obj) - {"type", "text", "emoji", "verbatim"}
    text = obj.get("text")
    problems = [f"{where}: unknown keys {sorted(extra)}"] if extra else []
    if not isinstance(text, str) or not text:
        problems.append(f"{where}.text: missing or empty")
    elif len(text) > limit:
        problems.append(f"{where}.text: {len(text)} > {limit} characters")
    return problems


def check_slack_body(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["body is not a JSON object"]
    problems = [f"unknown top-level key {k!r}" for k in set(body) - SLACK_TOP]
    if not isinstance(body.get("text"), str) or not body["text"]:
        problems.append("no_text: a top-level text is needed as the notification fallback")
    blocks = body.get("blocks", [])
    if not isinstance(blocks, list) or len(blocks) > 50:
        return [*problems, "blocks: must be a list of at most 50"]
    for i, block in enumerate(blocks):
        where = f"blocks[{i}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if "block_id" in block and len(str(block["block_id"])) > 255:
            problems.append(f"{where}.block_id too long")
        if kind == "header":
            problems += _slack_text(block.get("text"), f"{where}.text", 150, plain_only=True)
        elif kind == "section":
            if "text" not in block and "fields" not in block:
                problems.append(f"{where}: a section needs text or fields")
            if "text" in block:
                problems += _slack_text(block["text"], f"{where}.text", 3000)
            fields = block.get("fields", [])
            if len(fields) > 10:
                problems.append(f"{where}.fields: more than 10")
            for j, f in enumerate(fields):
                problems += _slack_text(f, f"{where}.fields[{j}]", 2000)
        elif kind == "actions":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 25:
                problems.append(f"{where}.elements: 1 to 25 needed")
            ids = [e.get("action_id") for e in elements if e.get("action_id")]
            if len(ids) != len(set(ids)):
                problems.append(f"{where}: action_id values must be unique")
            for j, e in enumerate(elements):
                w = f"{where}.elements[{j}]"
                if e.get("type") != "button":
                    problems.append(f"{w}: only buttons are expected")
                    continue
                problems += _slack_text(e.get("text"), f"{w}.text", 75, plain_only=True)
                url = e.get("url", "")
                if url and (len(url) > 3000 or not re.match(r"^https?://", url)):
                    problems.append(f"{w}.url: not an http(s) URL of <= 3000 characters")
                if len(e.get("action_id", "")) > 255:
                    problems.append(f"{w}.action_id too long")
                if e.get("style") not in (None, "primary", "danger"):
                    problems.append(f"{w}.style must be primary or danger")
        elif kind == "context":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 10:
                problems.append(f"{where}.elements: 1 to 10 needed")
            for j, e in enumerate(elements):
                problems += _slack_text(e, f"{where}.elements[{j}]", 3000)
        elif kind != "divider":
            problems.append(f"{where}: unexpected block type {kind!r}")
    return problems


def slack(request: Request) -> tuple[Reply, list[str]]:
    body, problems = _json(request)
    if request.method != "POST":
        problems.append(f"method {request.method}, not POST")
    if not problems:
        problems = check_slack_body(body)
    if not problems:
        return Reply(200, "ok", {"Content-Type": "text/html"}), []
    error = "no_text" if any(p.startswith("no_text") for p in problems) else "invalid_blocks"
    return Reply(400, error, {"Content-Type": "text/html"}), problems


# ---- Teams ----------------------------------------------------------------------------------

CARD_ELEMENTS = {"TextBlock", "FactSet", "ColumnSet", "Container", "Image", "RichTextBlock"}
TEXT_ENUMS = {
    "size": {"default", "small", "medium", "large", "extralarge"},
    "weight": {"default", "lighter", "bolder"},
    "color": {"default", "dark", "light", "accent", "good", "warning", "attention"},
}


def check_adaptive_card(card: Any) -> list[str]:
    if not isinstance(card, dict) or card.get("type") != "AdaptiveCard":
        return ["content.type must be AdaptiveCard"]
    problems = []
    version = str(card.get("version", ""))
    if not re.match(r"^1\.[0-5]$", version):
        problems.append(f"version {version!r}: Teams renders 1.0 to 1.5")
    for i, element in enumerate(card.get("body", [])):
        kind = element.get("type")
        where = f"body[{i}]"
        if kind not in CARD_ELEMENTS:
            problems.append(f"{where}: unknown element {kind!r}")
        if kind == "TextBlock":
            if not isinstance(element.get("text"), str) or not element["text"]:
                problems.append(f"{where}.text: required")
            for key, allowed in TEXT_ENUMS.items():
                if key in element and str(element[key]).lower() not in allowed:
                    problems.append(f"{where}.{key}: {element[key]!r} not in {sorted(allowed)}")
            if "style" in element and version < "1.5":
                problems.append(f"{where}.style needs version 1.5")
        if kind == "FactSet":
            facts = element.get("facts")
            if not isinstance(facts, list) or not all(
                isinstance(f.get("title"), str) and isinstance(f.get("value"), str) for f in facts
            ):
                problems.append(f"{where}.facts: a list of {{title, value}} strings")
    for i, action in enumerate(card.get("actions", [])):
        where = f"actions[{i}]"
        if action.get("type") != "Action.OpenUrl":
            problems.append(f"{where}: {action.get('type')} is not supported by webhooks")
        elif not re.match(r"^https?://", action.get("url", "")):
            problems.append(f"{where}.url: an absolute http(s) URL is required")
        if action.get("style") not in (None, "default", "positive", "destructive"):
            problems.append(f"{where}.style: default, positive or destructive")
    return problems


def teams(request: Request) -> tuple[Reply, list[str]]:
    body, problems = _json(request)
    if not problems:
        if not isinstance(body, dict) or body.get("type") != "message":
            problems.append('type must be "message"')
        attachments = body.get("attachments") if isinstance(body, dict) else None
        if not isinstance(attachments, list) or not attachments:
            problems.append("attachments: a non-empty list is required")
        for attachment in attachments or []:
            if attachment.get("contentType") != "application/vnd.microsoft.card.adaptive":
                problems.append(f"contentType {attachment.get('contentType')!r}")
            problems += check_adaptive_card(attachment.get("content"))
    if problems:
        return Reply(400, json.dumps({"error": {"message": "; ".join(problems)}})), problems
    return Reply(202, b""), []


# ---- PagerDuty ------------------------------------------------------------------------------

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
        body, problems = _json(request)
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


# ---- ntfy -----------------------------------------------------------------------------------

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


# ---- Twilio ---------------------------------------------------------------------------------


class TwilioSink(ServiceSink):
    def __init__(self, account_sid: str, auth_token: str):
        super().__init__(self._check)
        self.account_sid = account_sid
        self.auth_token = auth_token

    def _error(self, status: int, code: int, message: str) -> tuple[Reply, list[str]]:
        body = {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
        return Reply(status, json.dumps(body), {"Content-Type": "application/json"}), [message]

    def _check(self, request: Request) -> tuple[Reply, list[str]]:
        expected = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        if request.method != "POST" or request.path != expected:
            return self._error(404, 20404, f"{request.method} {request.path} not found")
        auth = request.headers.get("Authorization", "")
        pair = f"{self.account_sid}:{self.auth_token}".encode()
        if auth != "Basic " + base64.b64encode(pair).decode():
            return self._error(401, 20003, "Authenticate")
        if request.headers.get("Content-Type") != "application/x-www-form-urlencoded":
            return self._error(400, 20001, "the body must be form-encoded")
        form = {k: v[0] for k, v in parse_qs(request.body.decode(), keep_blank_values=True).items()}
        unknown = set(form) - {"To", "From", "MessagingServiceSid", "Body", "StatusCallback"}
        if unknown:
            return self._error(400, 20001, f"unknown parameters {sorted(unknown)}")
        if not re.match(r"^\+[1-9]\d{1,14}$", form.get("To", "")):
            return self._error(400, 21211, f"Invalid 'To' Phone Number: {form.get('To')}")
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return self._error(400, 21603, "A 'From' phone number is required.")
        if not form.get("Body"):
            return self._error(400, 21602, "Message body is required.")
        if len(form["Body"]) > 1600:
            return self._error(400, 21617, "The concatenated message body exceeds 1600 chars")
        sid = f"SM{len(self.accepted):032x}"
        resource = {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": form["To"],
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": form["Body"],
            "status": "queued",
            "num_segments": str(-(-len(form["Body"]) // 153)),
            "api_version": "2010-04-01",
        }
        return Reply(201, json.dumps(resource), {"Content-Type": "application/json"}), []
