"""A loopback stand-in for a Slack incoming webhook (see services.py).

What is checked: Slack incoming webhook + Block Kit: JSON object with a fallback `text`; blocks
of known types within Block Kit's limits (header plain_text <= 150, section text <= 3000, <= 10
fields of <= 2000, buttons: plain_text <= 75, url <= 3000, unique action_id <= 255, style
primary|danger; <= 50 blocks). Success: 200 "ok"; errors: 400 "invalid_blocks", "no_text".
`ServiceSink(slack)` serves it.
"""

from __future__ import annotations

import re
from typing import Any

from tests.support.http_target import Reply, Request
from tests.support.services import json_body

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
    body, problems = json_body(request)
    if request.method != "POST":
        problems.append(f"method {request.method}, not POST")
    if not problems:
        problems = check_slack_body(body)
    if not problems:
        return Reply(200, "ok", {"Content-Type": "text/html"}), []
    error = "no_text" if any(p.startswith("no_text") for p in problems) else "invalid_blocks"
    return Reply(400, error, {"Content-Type": "text/html"}), problems
