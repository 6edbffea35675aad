"""The `http` check: one HTTP(S) request, judged by status, body and latency.

    [[check]]
    name = "lab-results-api"
    type = "http"
    url = "https://lab.example.org/health"
    method = "GET"
    headers = { Accept = "application/json" }
    body = '{"probe": true}'          # optional request body
    expect_status = [200]             # default: any 2xx or 3xx
    body_contains = "ok"              # optional
    body_regex = '"status":\\s*"up"'  # optional, searched anywhere in the body
    max_latency = "2s"                # optional: slower is a warning
    expect_json = [{ path = "status", equals = "up" }]   # optional: see json_assert.py
    cert_min_days = [30, 7]           # optional: fewer days of certificate left: warning, critical
    verify_tls = true                 # the system's trust store, or ca_file
    ca_file = "/etc/ssl/internal-ca.pem"
    follow_redirects = false

Requests go through escalatord's own small HTTP/1.1 client (client.py: much cheaper per request
than httpx, whose pool also scans every idle connection on each request; bench/RESULTS.md,
'Issue 6: the scenario suite, and the first round of speed work'); checks with
`follow_redirects = true` use httpx. Both are shared process-wide through the check context
(keep-alive connections per origin; TLS contexts per ca_file), and both take one of an
origin's slots first: at most origins.PER_ORIGIN requests to one server at once. Requests
ignore proxy variables and ~/.netrc and keep no cookies, so a probe is the same whatever the
daemon's environment and whatever ran before it.

`cert_min_days = 30` warns when the server's certificate has fewer than 30 days left;
`[30, 7]` also makes fewer than 7 critical. An expired certificate is always critical (with
verify_tls it already fails the handshake). Checks are judged in this order: status, body,
JSON, certificate, latency; the first critical finding decides, warnings are listed together.
Before all of them, a body cut short or not decodable is critical. Both paths give an odd
server the same verdict (body.py lists them;
tests/integration/checks/http/test_http_odd_servers.py holds them).
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import socket
import ssl
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from escalatord import __version__
from escalatord.checks.base import Check, CheckContext
from escalatord.checks.http import body as http_body
from escalatord.checks.http import client as http_client
from escalatord.checks.http.config import HttpConfig
from escalatord.checks.http.origins import OriginLimit
from escalatord.checks.http.tlscert import days_left, not_after
from escalatord.checks.text import format_ms
from escalatord.core.durations import format_duration
from escalatord.core.status import Result, Status

BODY_CAP = 1 << 20  # read at most this much of a body when it has to be searched
DRAIN_CAP = 64 << 10  # else read this much, so small replies leave the connection reusable
USER_AGENT = f"escalatord/{__version__}"


def _unverified_context() -> ssl.SSLContext:
    """TLS without certificate checks (verify_tls = false); the certificate is still read."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _make_client(verify: ssl.SSLContext | bool, follow: bool) -> httpx.AsyncClient:
    jar = http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return httpx.AsyncClient(
        verify=verify,
        follow_redirects=follow,
        trust_env=False,
        cookies=jar,
        # No pool limit: a queue for a free connection would count as the target's latency.
        # Timeouts are execute()'s job: one hard bound for the whole probe.
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=256),
        timeout=None,
        # The codings both paths decode themselves (http_body.decode), whatever httpx could.
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": http_body.ACCEPT_ENCODING},
    )


# h11's words where the lean client says the same thing more plainly
_H11_WORDS = {
    "Receive buffer too long": http_body.HEAD_TOO_LONG,
    "Received server _SWITCH_UPGRADE event without a pending proposal": (
        "the server switched protocols"
    ),
}


def describe_error(exc: BaseException, host: str) -> str:
    """A short line for a failed request: connection refused, DNS, TLS, reset..."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    for err in chain:
        if isinstance(err, ssl.SSLCertVerificationError):
            reason = err.verify_message or str(err)
            return (
                f"TLS certificate verification failed: {reason} "
                "(set ca_file to the issuing CA, or verify_tls = false)"
            )
        if isinstance(err, ssl.SSLError):
            return f"TLS handshake failed: {err.reason or err}"
        if isinstance(err, socket.gaierror):
            return f"DNS lookup failed for {host}: {err.strerror or err}"
        if isinstance(err, ConnectionRefusedError):
            return "connection refused"
        if isinstance(err, ConnectionResetError):
            return "connection reset by the server"
        if isinstance(err, OSError) and err.errno is not None:
            return f"connection failed: {err.strerror or err}"
    if isinstance(exc, httpx.LocalProtocolError | httpx.UnsupportedProtocol):
        # Our own request could not be formed. The library's text is left out: it may quote
        # a header value, and summaries are stored, logged and paged.
        return f"the request could not be sent ({type(exc).__name__}); check url and headers"
    if isinstance(exc, httpx.RemoteProtocolError | http_client.ProtocolError):
        text = str(exc)
        return f"the server broke the HTTP protocol: {_H11_WORDS.get(text, text)}"
    if isinstance(exc, httpx.TooManyRedirects):
        return "too many redirects"
    return f"request failed: {exc or type(exc).__name__}"


class HttpCheck(Check):
    """One HTTP request per run; see the module docstring for the keys."""

    Config = HttpConfig
    config: HttpConfig

    def __init__(self, config: HttpConfig, context: CheckContext):
        super().__init__(config, context)
        self._pattern = re.compile(config.body_regex) if config.body_regex else None
        self._client_key = (
            f"httpx.client:verify={config.verify_tls}:ca={config.ca_file}"
            f":follow={config.follow_redirects}"
        )
        url = http_client.parse_url(config.url)
        self._host = url.host
        self._origin = (url.scheme, url.host, url.port)
        searching = config.body_contains is not None or self._pattern is not None
        self._cap = BODY_CAP if searching or config.expect_json else DRAIN_CAP
        self._fast: tuple[http_client.Target, bytes] | None = None  # see _request()

    def _request(self) -> tuple[http_client.Target, bytes]:
        """The target and the request's bytes: they never change between runs, so they are
        made once, at the first run (not at start, so that large configs start sooner)."""
        if self._fast is None:
            cfg = self.config
            target = http_client.Target.parse(cfg.url)
            body = cfg.body.encode() if cfg.body is not None else None
            request = http_client.build_request(target, cfg.method, cfg.headers, body, USER_AGENT)
            self._fast = (target, request)
        return self._fast

    def _tls(self) -> ssl.SSLContext:
        cfg = self.config
        if not cfg.verify_tls:
            return self.context.shared("ssl.context:noverify", _unverified_context)
        # Loading a trust store parses every CA in it: once per ca_file, whatever the other keys.
        # Without ca_file it is the system's store, where organisations add internal CAs.
        return self.context.shared(
            f"ssl.context:ca={cfg.ca_file}",
            lambda: ssl.create_default_context(cafile=cfg.ca_file),
        )

    def _client(self) -> httpx.AsyncClient:
        cfg = self.config
        verify: ssl.SSLContext | bool = self._tls() if cfg.verify_tls else False
        return self.context.shared(
            self._client_key, lambda: _make_client(verify, cfg.follow_redirects)
        )

    async def probe(self) -> Result:
        # One of the origin's slots first (origins.py): connections to one server are capped.
        # Both paths start their latency clock after it: the wait is not the target's.
        limit = self.context.shared("http.origins", OriginLimit)
        async with limit.slot(self._origin):
            if not self.config.follow_redirects:
                return await self._probe_fast(*self._request())
            return await self._probe_httpx()

    async def _probe_fast(self, target: http_client.Target, request: bytes) -> Result:
        client = self.context.shared("http.client", http_client.Client)
        tls = self._tls() if target.scheme == "https" else None  # before the clock: see _tls
        started = time.perf_counter()
        try:
            response = await client.request(
                target, request, head=self.config.method == "HEAD", cap=self._cap, tls=tls
            )
        except (OSError, http_client.ProtocolError) as exc:  # ssl and DNS errors are OSErrors
            return Result(Status.CRITICAL, describe_error(exc, self._host))
        latency_ms = (time.perf_counter() - started) * 1000
        return self._judge(
            response.status,
            response.reason,
            response.encoding,
            response.body,
            latency_ms,
            response.peer_certificate,
            response.fault,
        )

    async def _probe_httpx(self) -> Result:
        """The request through httpx (redirects). Its body is read raw and decoded, and its
        framing judged, by http_body: the verdicts of the lean path (see body.py)."""
        cfg = self.config
        cap = self._cap
        client = self._client()  # before the clock: the first call loads a trust store
        started = time.perf_counter()
        chunks: list[bytes] = []
        size, fault = 0, None
        try:
            async with client.stream(
                cfg.method,
                cfg.url,
                headers=cfg.headers,
                content=cfg.body.encode() if cfg.body is not None else None,
            ) as response:
                headers = response.headers.multi_items()
                if framing := http_body.framing_fault(headers):
                    return Result(Status.CRITICAL, f"the server broke the HTTP protocol: {framing}")
                der = _peer_certificate(response) if cfg.cert_min_days is not None else None
                try:
                    async for chunk in response.aiter_raw():
                        chunks.append(chunk)
                        size += len(chunk)
                        if size >= cap:
                            break  # closing early drops the connection; the cap bounds memory
                except httpx.RemoteProtocolError as exc:
                    # h11's words for a body that ended with the connection before its end
                    if "without sending complete message body" not in str(exc):
                        raise
                    fault = http_body.cut_short(headers, size)
                latency_ms = (time.perf_counter() - started) * 1000
        except httpx.HTTPError as exc:
            return Result(Status.CRITICAL, describe_error(exc, self._host))
        encoding = response.headers.get("content-encoding")
        body, undecodable = http_body.decode(b"".join(chunks), encoding, cap, size < cap)
        return self._judge(
            response.status_code,
            response.reason_phrase,
            response.encoding,
            body,
            latency_ms,
            der,
            fault or undecodable,
        )

    def _judge(
        self,
        code: int,
        reason: str,
        encoding: str | None,
        body: bytes,
        latency_ms: float,
        der: bytes | None = None,
        fault: str | None = None,
    ) -> Result:
        cfg = self.config
        line = f"HTTP {code} {reason}".strip()
        line += f" in {format_ms(latency_ms)} ms"
        measurements = {
            "status_code": float(code),
            "latency_ms": round(latency_ms, 3),
            "body_bytes": float(len(body)),
        }
        if fault is not None:  # a body cut short or undecodable: whatever came is not judged
            return Result(Status.CRITICAL, f"{line}, but {fault}", measurements)
        if cfg.expect_status is not None:
            if code not in cfg.expect_status:
                wanted = " or ".join(str(c) for c in cfg.expect_status)
                return Result(Status.CRITICAL, f"{line}, expected {wanted}", measurements)
        elif not 200 <= code < 400:
            return Result(Status.CRITICAL, f"{line}, expected 2xx or 3xx", measurements)
        if cfg.body_contains is not None or self._pattern is not None:
            try:
                text = body.decode(encoding or "utf-8", errors="replace")
            except LookupError:  # a charset Python does not know: judge it as UTF-8
                text = body.decode("utf-8", errors="replace")
            cut = " in the first 1 MiB" if len(body) >= BODY_CAP else ""
            if cfg.body_contains is not None and cfg.body_contains not in text:
                return Result(
                    Status.CRITICAL,
                    f"{line}, but the body does not contain {cfg.body_contains!r}{cut}",
                    measurements,
                )
            if self._pattern is not None and not self._pattern.search(text):
                return Result(
                    Status.CRITICAL,
                    f"{line}, but the body does not match /{cfg.body_regex}/{cut}",
                    measurements,
                )
        warnings: list[str] = []
        if cfg.expect_json:
            found = self._judge_json(body)
            critical = [text for status, text in found if status == "critical"]
            if critical:
                return Result(Status.CRITICAL, f"{line}, but {'; '.join(critical)}", measurements)
            warnings += [text for _status, text in found]
        if cfg.cert_min_days is not None:
            status, text = self._judge_cert(der, measurements)
            if status is Status.CRITICAL:
                return Result(Status.CRITICAL, f"{line}, but {text}", measurements)
            if status is Status.WARNING:
                warnings.append(text)
        if cfg.max_latency is not None and latency_ms > cfg.max_latency.total_seconds() * 1000:
            warnings.append(f"slower than max_latency {format_duration(cfg.max_latency)}")
        if warnings:
            return Result(Status.WARNING, f"{line}, {'; '.join(warnings)}", measurements)
        return Result(Status.OK, line, measurements)

    def _judge_json(self, body: bytes) -> list[tuple[str, str]]:
        """(status, why) of every failed `expect_json` assertion."""
        if len(body) >= BODY_CAP:
            return [("critical", "the body is over 1 MiB: its JSON was not judged")]
        try:
            document: Any = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return [("critical", f"the body is not JSON ({exc})")]
        failed = []
        for assertion in self.config.expect_json:
            why = assertion.failure(document)
            if why is not None:
                failed.append((assertion.status, why))
        return failed

    def _judge_cert(self, der: bytes | None, measurements: dict[str, float]) -> tuple[Status, str]:
        if der is None:
            return Status.CRITICAL, "the server sent no TLS certificate"
        try:
            expires = not_after(der)
        except ValueError as exc:
            return Status.CRITICAL, f"its TLS certificate could not be read: {exc}"
        left = days_left(expires, datetime.now(UTC))
        measurements["cert_days_left"] = round(left, 2)
        warning, critical = self.config.cert_days
        when = expires.strftime("%Y-%m-%d %H:%M UTC")
        if left < 0:
            return Status.CRITICAL, f"the TLS certificate expired on {when}"
        if left < critical:
            return Status.CRITICAL, (
                f"the TLS certificate expires in {left:.1f} days ({when}), under {critical}"
            )
        if left < warning:
            return Status.WARNING, (
                f"the TLS certificate expires in {left:.1f} days ({when}), under {warning}"
            )
        return Status.OK, ""


def _peer_certificate(response: httpx.Response) -> bytes | None:
    """The DER certificate the server presented on this response's connection."""
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    if ssl_object is None:
        return None
    return ssl_object.getpeercert(binary_form=True)
