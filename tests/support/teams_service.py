"""A loopback stand-in for a Microsoft Teams webhook (see services.py).

What is checked: Teams (Workflows webhook / Incoming Webhook): {"type": "message",
"attachments": [...]} with Adaptive Cards (contentType application/vnd.microsoft.card.adaptive,
type AdaptiveCard, version <= 1.5, known element types and enum values, Action.OpenUrl with
absolute url; Action.Submit is not supported there). Success: 202. `ServiceSink(teams)` serves
it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.support.http_target import Reply, Request
from tests.support.services import json_body

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
    body, problems = json_body(request)
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
