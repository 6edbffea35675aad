"""The http check against a real HTTP(S) server on loopback."""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from escalatord.checks.base import CheckContext, execute
from escalatord.checks.http.check import HttpCheck, describe_error
from escalatord.core.status import Status
from tests.support.certs import self_signed
from tests.support.http_target import HttpTarget, Reply


@pytest.fixture(scope="module")
def server() -> Iterator[HttpTarget]:
    # One server per module: stopping one costs half a second (its poll interval).
    with HttpTarget() as t:
        # The body-cap test hangs up mid-body; the server's failed write is expected.
        t.server.handle_error = lambda *args: None  # type: ignore[method-assign]
        yield t


@pytest.fixture
def target(server: HttpTarget) -> HttpTarget:
    """The module's server, answering 200 "ok" on every path and with no requests recorded."""
    server.respond(200, b"ok")
    server.requests.clear()
    return server


@pytest.fixture
async def context() -> AsyncIterator[CheckContext]:
    ctx = CheckContext()
    yield ctx
    await ctx.aclose()


def make(context: CheckContext, **keys: Any) -> HttpCheck:
    keys.setdefault("timeout", "5s")
    return HttpCheck(HttpCheck.Config(name="web", type="http", **keys), context)


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1."""
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_target(certificate: tuple[Path, Path]) -> Iterator[HttpTarget]:
    """HttpTarget serving HTTPS: its listening socket wrapped before it starts serving."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(*certificate)
    t = HttpTarget()
    # The handshake then runs in the handler thread, where a refused one only ends that thread.
    t.server.socket = server_ctx.wrap_socket(
        t.server.socket, server_side=True, do_handshake_on_connect=False
    )
    t.server.handle_error = lambda *args: None  # type: ignore[method-assign]  # refused certs
    with t:
        yield t


async def test_200_is_ok_with_status_and_latency(target: HttpTarget, context: CheckContext):
    """A 200 reply is ok, summarised as "HTTP 200 OK in N ms" with status and latency."""
    result = await execute(make(context, url=target.url("/health")))
    assert result.status is Status.OK
    assert result.summary.startswith("HTTP 200 OK in ")
    assert result.measurements["status_code"] == 200
    assert result.measurements["latency_ms"] >= 0


async def test_500_is_critical(target: HttpTarget, context: CheckContext):
    """A 500 reply is critical and the summary names the status and what was expected."""
    target.respond(500, "boom")
    result = await execute(make(context, url=target.url("/health")))
    assert result.status is Status.CRITICAL
    assert "HTTP 500 Internal Server Error" in result.summary
    assert "expected 2xx or 3xx" in result.summary


async def test_body_contains_mismatch_is_critical(target: HttpTarget, context: CheckContext):
    """A body without `body_contains` is critical, saying which text was expected."""
    target.respond(200, "status: degraded")
    result = await execute(make(context, url=target.url(), body_contains="healthy"))
    assert result.status is Status.CRITICAL
    assert "does not contain 'healthy'" in result.summary


async def test_body_regex_match_and_mismatch(target: HttpTarget, context: CheckContext):
    """`body_regex` is searched in the body: a match is ok, no match is critical."""
    target.respond(200, '{"status": "up", "db": "ok"}')
    check = make(context, url=target.url(), body_regex=r'"status":\s*"up"')
    assert (await execute(check)).status is Status.OK
    target.respond(200, '{"status": "down"}')
    result = await execute(check)
    assert result.status is Status.CRITICAL
    assert 'does not match /"status":\\s*"up"/' in result.summary


async def test_body_is_searched_only_up_to_the_cap(target: HttpTarget, context: CheckContext):
    """Text beyond the first 1 MiB of a body is not searched, and the summary says so."""
    target.respond(200, b"x" * (2 << 20) + b"needle")
    result = await execute(make(context, url=target.url(), body_contains="needle"))
    assert result.status is Status.CRITICAL
    assert "in the first 1 MiB" in result.summary


async def test_slow_reply_is_a_warning(target: HttpTarget, context: CheckContext):
    """A reply slower than `max_latency` is a warning naming the limit."""
    target.respond(200, "ok", delay=0.3)
    result = await execute(make(context, url=target.url(), max_latency="50ms"))
    assert result.status is Status.WARNING
    assert "slower than max_latency 50ms" in result.summary


async def test_hanging_server_times_out(target: HttpTarget, context: CheckContext):
    """A server that never answers makes the check critical: "timed out after <timeout>"."""
    target.respond(hang=True)
    result = await execute(make(context, url=target.url(), timeout="300ms"))
    assert result.status is Status.CRITICAL
    assert result.summary == "timed out after 300ms"


async def test_closed_port_is_connection_refused(context: CheckContext):
    """A port nobody listens on is critical "connection refused"."""
    result = await execute(make(context, url=f"http://127.0.0.1:{closed_port()}/"))
    assert result.status is Status.CRITICAL
    assert result.summary == "connection refused"


async def test_expect_status_is_honoured(target: HttpTarget, context: CheckContext):
    """With `expect_status`, only the listed codes are ok, even a 404, and others critical."""
    target.respond(404, "gone")
    result = await execute(make(context, url=target.url(), expect_status=[404]))
    assert result.status is Status.OK
    target.respond(200)
    result = await execute(make(context, url=target.url(), expect_status=[201, 202]))
    assert result.status is Status.CRITICAL
    assert "expected 201 or 202" in result.summary


async def test_method_headers_and_body_are_sent(target: HttpTarget, context: CheckContext):
    """The configured method, headers and body reach the server as written."""
    check = make(
        context,
        url=target.url("/probe?x=1"),
        method="post",
        headers={"X-Probe": "escalatord", "Content-Type": "text/plain"},
        body="ping\r\n",
    )
    result = await execute(check)
    assert result.status is Status.OK
    (request,) = target.wait_for(1)
    assert request.method == "POST"
    assert request.path == "/probe?x=1"
    assert request.headers["X-Probe"] == "escalatord"
    assert request.headers["User-Agent"].startswith("escalatord/")
    assert request.body == b"ping\r\n"


async def test_redirects_are_followed_only_when_asked(target: HttpTarget, context: CheckContext):
    """A 302 is ok as it is by default; with follow_redirects the final page is judged."""
    target.respond(302, "", path="/old", headers={"Location": "/new"})
    target.respond(500, "broken", path="/new")
    result = await execute(make(context, url=target.url("/old")))
    assert result.status is Status.OK
    assert result.measurements["status_code"] == 302
    result = await execute(make(context, url=target.url("/old"), follow_redirects=True))
    assert result.status is Status.CRITICAL
    assert "HTTP 500" in result.summary


async def test_cookies_are_not_kept_between_runs(target: HttpTarget, context: CheckContext):
    """A cookie set by the target is not sent back on the next run."""
    target.then(Reply(200, "ok", headers={"Set-Cookie": "session=abc; Path=/"}))
    check = make(context, url=target.url())
    await execute(check)
    await execute(check)
    _first, second = target.wait_for(2)
    assert "Cookie" not in second.headers


async def test_self_signed_tls_fails_verification(tls_target: HttpTarget, context: CheckContext):
    """A self-signed certificate is critical with TLS verification on, naming the fix."""
    url = tls_target.url().replace("http://", "https://")
    result = await execute(make(context, url=url))
    assert result.status is Status.CRITICAL
    assert "TLS certificate verification failed" in result.summary
    assert "self-signed" in result.summary
    assert "verify_tls = false" in result.summary


async def test_self_signed_tls_ok_without_verification(
    tls_target: HttpTarget, context: CheckContext
):
    """With verify_tls = false the same self-signed server is ok."""
    url = tls_target.url().replace("http://", "https://")
    result = await execute(make(context, url=url, verify_tls=False))
    assert result.status is Status.OK, result.summary


async def test_ca_file_trusts_a_private_ca(
    tls_target: HttpTarget, context: CheckContext, certificate: tuple[Path, Path]
):
    """A `ca_file` holding the server's issuer makes its certificate verify."""
    url = tls_target.url().replace("http://", "https://")
    result = await execute(make(context, url=url, ca_file=str(certificate[0])))
    assert result.status is Status.OK, result.summary


async def test_a_request_httpx_refuses_is_described_without_its_header_values(target: HttpTarget):
    """When the HTTP library refuses our own request (a header value it will not send), the
    summary says so without quoting the value: summaries are stored, logged and paged."""
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.HTTPError) as caught:
            await client.get(target.url(), headers={"X-Api-Key": "s3cret-api-key\t"})
    summary = describe_error(caught.value, "127.0.0.1")
    assert "could not be sent" in summary and "check url and headers" in summary
    assert "s3cret" not in summary


def test_header_values_with_surrounding_blanks_are_refused():
    """A header value with leading or trailing blanks, which every request would fail on, is
    refused when the config is loaded."""
    with pytest.raises(ValueError, match="remove the spaces or tabs"):
        HttpCheck.Config.model_validate(
            {"name": "web", "type": "http", "url": "http://127.0.0.1/", "headers": {"K": " v"}}
        )
