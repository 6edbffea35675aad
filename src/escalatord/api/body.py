"""JSON request bodies: the one reader every JSON endpoint uses, and the rules it applies.

A JSON endpoint (`/api/v1/alerts/alertmanager`, `/api/v1/events/pagerduty`) reads its body
with `read_json`, after checking any credential the request's headers carry. The rules, each
refused with a JSON error naming the problem (`BadBody.response`):

- 415 unless `Content-Type` is `application/json` (or `application/<x>+json`), with no charset
  or `charset=utf-8`: what Alertmanager, PagerDuty clients and `curl --json` send;
- 413 past `MAX_BODY` (1 MiB), read no further;
- 400 when the body is not UTF-8, not JSON, or nests arrays and objects deeper than
  `MAX_DEPTH` levels (a body of 100,000 `[` is refused without recursing into it);
- 400 when a string (value or key) is not Unicode text: a lone surrogate such as `"\\ud800"`
  is valid JSON syntax but no text, and would fail later, when stored or logged. An endpoint
  that judges items one by one (Alertmanager's alerts) reads with `text=False` and asks
  `problem()` about each item itself, so one bad item does not refuse the others.

Heartbeats are not JSON endpoints: they take any body (`auth.read_body`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from escalatord.api.auth import BodyTooLarge, error, read_body

MAX_DEPTH = 32  # Alertmanager's payload nests 4 deep; PagerDuty's custom_details a few more
JSON_TYPE = "application/json"
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")  # \ud800 to \udfff


class BadBody(Exception):
    """A request body a JSON endpoint refuses; `response` is the JSON error to answer."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message

    @property
    def response(self) -> JSONResponse:
        return error(self.status, self.message)


def content_type_problem(value: str | None) -> str | None:
    """Why a `Content-Type` header value is not JSON in UTF-8; None when it is."""
    if not value:
        return f"the body must be JSON: send Content-Type: {JSON_TYPE} (none was sent)"
    media, *params = (part.strip() for part in value.split(";"))
    media = media.lower()
    if media != JSON_TYPE and not (media.startswith("application/") and media.endswith("+json")):
        return f"the body must be JSON: send Content-Type: {JSON_TYPE} (got {media!r})"
    for param in params:
        name, _, given = param.partition("=")
        charset = given.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in ("utf-8", "utf8"):
            return f"JSON is read as UTF-8: send Content-Type: {JSON_TYPE} (got charset={charset})"
    return None


def parse(raw: bytes, *, text: bool = True) -> Any:
    """The JSON value of a body, or BadBody (400) saying what is wrong with it and where.

    `text=False` leaves strings that are not Unicode text in place, for the caller to judge
    item by item with `problem()`; the depth bound holds either way.
    """
    if not raw.strip():
        raise BadBody(400, "the body is empty: send a JSON document")
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadBody(
            400, f"the body is not UTF-8 text: byte {raw[exc.start]:#04x} at offset {exc.start}"
        ) from None
    try:
        value = json.loads(decoded)
    except RecursionError:  # the C parser recurses per level: far past MAX_DEPTH anyway
        raise BadBody(400, _too_deep()) from None
    except json.JSONDecodeError as exc:
        raise BadBody(400, f"the body is not valid JSON: {exc}") from None
    except ValueError as exc:  # an integer past Python's 4300-digit conversion limit
        reason = str(exc).partition(";")[0]
        raise BadBody(400, f"the body holds a number too long to read: {reason}") from None
    # Cheap bounds first: fewer openers than MAX_DEPTH cannot nest deeper, and without a
    # \uD8xx-\uDFxx escape there is no lone surrogate (the UTF-8 decode refused encoded ones).
    deep = raw.count(b"[") + raw.count(b"{") > MAX_DEPTH
    escaped = text and _SURROGATE_ESCAPE.search(raw) is not None
    if deep or escaped:
        found = problem(value, text=text)
        if found is not None:
            raise BadBody(400, found)
    return value


async def read_json(request: Request, *, text: bool = True) -> Any:
    """The request's JSON body under the rules in this module's docstring; BadBody if not."""
    refused = content_type_problem(request.headers.get("content-type"))
    if refused is not None:
        raise BadBody(415, refused)
    try:
        raw = await read_body(request)
    except BodyTooLarge:
        raise BadBody(413, "the body is larger than 1 MiB") from None
    return parse(raw, text=text)


def problem(value: Any, path: str = "", *, text: bool = True) -> str | None:
    """The first thing wrong with a parsed JSON value, naming where (`alerts[2].labels.team:
    …`, indexes from 0); None when it nests at most MAX_DEPTH deep and (with `text`) every
    string and key is Unicode text. `path` names `value` itself (empty: the body)."""
    stack: list[tuple[Any, str, int]] = [(value, path, 1)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, str):
            bad = _not_text(item) if text else None
            if bad is not None:
                return f"{where or 'body'}: not Unicode text: {bad}"
        elif isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                return _too_deep()
            children: list[tuple[Any, str, int]] = []
            if isinstance(item, list):
                children = [(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(item)]
            else:
                for key, v in item.items():
                    bad = _not_text(key) if text else None
                    if bad is not None:
                        return f"{where or 'body'}: a key is not Unicode text: {bad}"
                    children.append((v, f"{where}.{key}" if where else key, depth + 1))
            stack.extend(reversed(children))  # popped in document order: the first is named
    return None


def _not_text(value: str) -> str | None:
    if value.isascii():
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        char = ascii(value[exc.start])[1:-1]  # "\ud800", safe to log and echo
        return f"a lone surrogate ({char}) at character {exc.start + 1}; send UTF-8 text"
    return None


def _too_deep() -> str:
    return f"the body nests arrays and objects deeper than {MAX_DEPTH} levels"
