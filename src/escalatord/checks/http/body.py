"""How a reply's head and body are judged, the same on both of the http check's paths.

The http check reads replies through two parsers: escalatord's lean client (client.py,
httptools/llhttp) and httpx (h11) for `follow_redirects = true`. Left alone they disagree on
odd servers, so both paths go through these pure functions, and
tests/integration/checks/http/test_http_odd_servers.py holds them to one verdict:

- A body that stops before its end (fewer bytes than Content-Length, or a chunked body without
  its last chunk, then the server closes) is cut short: critical, saying how much came.
- A gzip or deflate body (`Content-Encoding`) that does not decode, or whose stream ends early,
  is critical. Other codings (escalatord asks only for gzip and deflate) are judged as sent.
  A body read only up to the check's cap is decoded up to it and not judged for its end.
- Bare LF line endings, obs-fold header continuations and a Content-Length repeated with the
  same value are read (h11 reads them; so does llhttp once `relax_head` rewrites the head).
- `Transfer-Encoding` other than `chunked`, or with a Content-Length beside it, a head over
  `MAX_HEAD` bytes and a reply that starts with an empty line break the protocol: critical.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable

MAX_HEAD = 100 << 10  # h11's limit for an incomplete head (max_incomplete_event_size)
HEAD_TOO_LONG = "the reply's head is over 100 KiB"
# The codings escalatord asks for (Accept-Encoding on both paths): name → zlib wbits to try.
_WBITS = {
    "gzip": (16 + zlib.MAX_WBITS,),
    "x-gzip": (16 + zlib.MAX_WBITS,),
    "deflate": (zlib.MAX_WBITS, -zlib.MAX_WBITS),  # zlib-wrapped, as specified, or raw
}
ACCEPT_ENCODING = "gzip, deflate"


def framing_fault(headers: Iterable[tuple[str, str]]) -> str | None:
    """What is wrong with how the head says its body is delimited, if anything. h11 refuses
    these replies, and llhttp parses them in ways h11 does not: one verdict for both."""
    encodings: list[str] = []
    has_length = False
    for name, value in headers:
        key = name.lower()
        if key == "transfer-encoding":
            encodings.append(value.strip().lower())
        elif key == "content-length":
            has_length = True
    if not encodings:
        return None
    if encodings != ["chunked"]:
        return f"unsupported Transfer-Encoding {', '.join(encodings)!r} (only chunked is)"
    if has_length:
        return "the reply has both Transfer-Encoding and Content-Length"
    return None


def cut_short(headers: Iterable[tuple[str, str]], received: int) -> str | None:
    """Why a body that ended with the connection is incomplete; None when the reply is
    delimited by the end of the connection (no Content-Length, not chunked)."""
    length: str | None = None
    for name, value in headers:
        key = name.lower()
        if key == "transfer-encoding":
            return (
                f"the body was cut short: the server closed the connection after {received} "
                "bytes, before the chunked body's end"
            )
        if key == "content-length":
            length = value.split(",")[0].strip()
    if length is None:
        return None
    return (
        f"the body was cut short: the server closed the connection after {received} "
        f"of {length} bytes"
    )


def decode(
    body: bytes, content_encoding: str | None, cap: int, whole: bool
) -> tuple[bytes, str | None]:
    """(the body decoded, at most `cap` bytes of it; why it cannot be, or None). `whole` is
    False when the body was cut at the cap: its stream is then expected to end early."""
    if not content_encoding or not body:  # the usual reply: nothing to do (the hot path)
        return body[:cap], None
    codings = [c.strip().lower() for c in content_encoding.split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings or any(c not in _WBITS for c in codings):
        return body[:cap], None  # nothing to decode, or a coding not asked for: as sent
    for coding in reversed(codings):  # the last coding applied is undone first
        body, fault = _undo(body, coding, cap, whole)
        if fault is not None:
            return b"", fault
    return body, None


def _undo(body: bytes, coding: str, cap: int, whole: bool) -> tuple[bytes, str | None]:
    error = ""
    for wbits in _WBITS[coding]:
        stream = zlib.decompressobj(wbits)
        try:
            out = stream.decompress(body, cap)
        except zlib.error as exc:
            error = str(exc).removeprefix("Error -3 while decompressing data: ")
            continue
        if whole and not stream.eof and len(out) < cap:
            return b"", (
                f"the {coding} body stops before its stream ends (Content-Encoding: {coding})"
            )
        return out, None
    return b"", f"the body is not valid {coding} (Content-Encoding: {coding}): {error}"


_HEAD_END = re.compile(rb"\r?\n\r?\n")
_FOLD = re.compile(rb"\r?\n[ \t]+")
_INTERIM = re.compile(rb"HTTP/\d\.\d 1\d\d[ \r\n]")
_LENGTH = re.compile(rb"^content-length[ \t]*:[ \t]*([^\r\n]*)\r?\n", re.IGNORECASE | re.MULTILINE)


def head_complete(data: bytes) -> bool:
    """Whether `data`, a reply's first bytes, hold its whole final (non-1xx) head."""
    return _final_head(data) is not None


def _final_head(data: bytes) -> tuple[int, re.Match[bytes]] | None:
    """(where the final head starts, the match of its blank line), past interim (1xx) heads."""
    start = 0
    while True:
        end = _HEAD_END.search(data, start)
        if end is None:
            return None
        if not _INTERIM.match(data, start):
            return start, end
        start = end.end()


def relax_head(data: bytes) -> bytes | None:
    """The reply rewritten as h11 reads it, for llhttp's second try after it refused the head:
    obs-fold continuations joined with a space, a Content-Length repeated (or listed) with one
    value written once. None when there is nothing to rewrite (llhttp's refusal stands) or
    the head has not ended yet. The body is left as it came."""
    found = _final_head(data)
    if found is None:
        return None
    start, end = found
    line_end = data.index(b"\n", start) + 1  # a fold right after the status line stays refused
    if line_end > end.start():
        return None  # no header fields
    fields = _FOLD.sub(b" ", data[line_end : end.start()] + b"\r\n")
    lengths = _LENGTH.findall(fields)
    if len(lengths) > 1 or (lengths and b"," in lengths[0]):
        values = {v.strip() for raw in lengths for v in raw.split(b",")}
        if len(values) != 1:
            return None  # conflicting lengths: a real error
        fields = _LENGTH.sub(b"", fields) + b"Content-Length: " + values.pop() + b"\r\n"
    relaxed = data[:line_end] + fields + b"\r\n" + data[end.end() :]
    return None if relaxed == data else relaxed
