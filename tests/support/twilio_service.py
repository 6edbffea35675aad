"""A loopback stand-in for Twilio's Messages API (see services.py).

What is checked: POST /2010-04-01/Accounts/<AC…>/Messages.json, form-encoded, basic auth with
that account SID and the token; To in E.164, From or MessagingServiceSid, Body <= 1600
characters. Success: 201 Message resource; errors: Twilio's JSON error codes.
"""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import parse_qs

from tests.support.http_target import Reply, Request
from tests.support.services import ServiceSink


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
