"""A loopback stand-in for Slack's Web API `chat.postMessage`, beside the incoming webhook
(see services.py and slack_service.py).

What is checked on POST /api/chat.postMessage: `Authorization: Bearer <bot token>` (else
"not_authed" / "invalid_auth"), a JSON body said to be UTF-8 (`application/json;
charset=utf-8`), a `channel` the workspace knows (else "channel_not_found"), and the rest of
the body as Block Kit like the webhook's. As Slack does, every answer is 200 with
{"ok": true, "channel", "ts"} or {"ok": false, "error"}; a user id "U…" is answered with the
id of the app's direct-message channel with that user ("D…"). Any other path is the incoming
webhook (`slack_service.slack`). `SlackApiSink(token, channels)` serves both.
"""

from __future__ import annotations

import json
from typing import Any

from tests.support.http_target import Reply, Request
from tests.support.services import ServiceSink, json_body
from tests.support.slack_service import check_slack_body, slack

POST_MESSAGE = "/api/chat.postMessage"


class SlackApiSink(ServiceSink):
    def __init__(self, token: str, channels: set[str]):
        super().__init__(self._check)
        self.token = token
        self.channels = channels  # the user and channel ids the workspace has

    def _answer(self, data: dict[str, Any], problem: str | None = None) -> tuple[Reply, list[str]]:
        reply = Reply(200, json.dumps(data), {"Content-Type": "application/json; charset=utf-8"})
        return reply, [problem] if problem else []

    def _check(self, request: Request) -> tuple[Reply, list[str]]:
        if request.path != POST_MESSAGE:
            return slack(request)
        auth = request.headers.get("Authorization", "")
        if not auth:
            return self._answer({"ok": False, "error": "not_authed"}, "no Authorization")
        if auth != f"Bearer {self.token}":
            return self._answer({"ok": False, "error": "invalid_auth"}, "wrong token")
        if request.headers.get("Content-Type", "").replace(" ", "").lower() != (
            "application/json;charset=utf-8"
        ):
            return self._answer({"ok": False, "error": "invalid_arguments"}, "no JSON charset")
        body, problems = json_body(request)
        if problems or not isinstance(body, dict):
            return self._answer({"ok": False, "error": "invalid_json"}, "body is not JSON")
        channel = body.get("channel")
        if channel not in self.channels:
            return self._answer(
                {"ok": False, "error": "channel_not_found"}, f"unknown channel {channel!r}"
            )
        problems = check_slack_body({k: v for k, v in body.items() if k != "channel"})
        if problems:
            return self._answer({"ok": False, "error": "invalid_blocks"}, "; ".join(problems))
        where = "D" + channel[1:] if channel.startswith("U") else channel
        ts = f"1716000000.{len(self.accepted):06d}"
        return self._answer({"ok": True, "channel": where, "ts": ts, "message": body})
