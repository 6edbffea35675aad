"""The http check's JSON body assertions and certificate expiry, against real local servers."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from escalatord.checks.base import CheckContext, execute
from escalatord.checks.http.check import HttpCheck
from escalatord.checks.http.tlscert import not_after
from escalatord.core.status import Status
from tests.support import programs
from tests.support.certs import self_signed
from tests.support.http_target import HttpTarget

HEALTH = '{"status": "up", "checks": {"db": {"latency_ms": 180}}, "queues": [{"depth": 7}]}'


@pytest.fixture(scope="module")
def web() -> Iterator[HttpTarget]:
    with HttpTarget() as t:
        yield t


async def run(**keys: Any):
    """One probe with a fresh context (no kept-alive connection from an earlier test)."""
    keys.setdefault("timeout", "5s")
    context = CheckContext()
    try:
        return await execute(HttpCheck(HttpCheck.Config(name="w", type="http", **keys), context))
    finally:
        await context.aclose()


async def test_json_assertions_pass(web: HttpTarget):
    """A body meeting every assertion is ok."""
    web.respond(200, HEALTH, headers={"Content-Type": "application/json"})
    result = await run(
        url=web.url("/health"),
        expect_json=[
            {"path": "status", "equals": "up"},
            {"path": "checks.db.latency_ms", "lt": 500},
            {"path": "queues[0].depth", "le": 100},
        ],
    )
    assert result.status is Status.OK, result.summary


async def test_failed_json_assertion_is_critical_or_its_status(web: HttpTarget):
    """A failed assertion is critical, naming path, value and expectation; one marked
    `status = "warning"` only warns."""
    web.respond(200, HEALTH)
    critical = await run(url=web.url("/health"), expect_json=[{"path": "status", "equals": "down"}])
    assert critical.status is Status.CRITICAL
    assert critical.summary.endswith('but status is "up", expected "down"')
    slow_db = {"path": "checks.db.latency_ms", "lt": 100, "status": "warning"}
    warning = await run(url=web.url("/health"), expect_json=[slow_db])
    assert warning.status is Status.WARNING
    assert warning.summary.endswith("checks.db.latency_ms is 180, expected < 100")


async def test_body_that_is_not_json_is_critical(web: HttpTarget):
    """A body that is not JSON fails the assertions with a clear reason."""
    web.respond(200, "<html>maintenance</html>")
    result = await run(url=web.url("/health"), expect_json=[{"path": "status", "exists": True}])
    assert result.status is Status.CRITICAL and "the body is not JSON" in result.summary


def test_expect_json_config_errors():
    """A bad path or an assertion without a comparison is a config error."""
    with pytest.raises(ValidationError, match="invalid JSON path"):
        HttpCheck.Config(name="w", type="http", url="http://x/", expect_json=[{"path": "a..b"}])
    with pytest.raises(ValidationError, match="at least one of"):
        HttpCheck.Config(name="w", type="http", url="http://x/", expect_json=[{"path": "a"}])


# ---- certificate expiry -------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[Path, Path]]:
    """Certificates for 127.0.0.1 valid for 2 days (nearly expired), 20 days and 400 days."""
    folder = tmp_path_factory.mktemp("certs")
    return {days: self_signed(folder, days, name=f"cert-{days}") for days in (2, 20, 400)}


@pytest.fixture(scope="module")
def tls(certificates) -> Iterator[tuple[HttpTarget, ssl.SSLContext]]:
    """An HTTPS server; tests swap its certificate (new handshakes present the new one)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificates[400])
    server = HttpTarget()
    server.server.socket = context.wrap_socket(
        server.server.socket, server_side=True, do_handshake_on_connect=False
    )
    server.server.handle_error = lambda *args: None  # type: ignore[method-assign]
    with server:
        yield server, context


def test_expiry_is_read_from_the_certificate(certificates):
    """The notAfter read from DER bytes is the one openssl reports."""
    cert, _key = certificates[20]
    [openssl] = programs.require("openssl")
    shown = subprocess.run(
        [openssl, "x509", "-enddate", "-noout", "-in", str(cert)],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    expected = datetime.strptime(shown.removeprefix("notAfter="), "%b %d %H:%M:%S %Y %Z")
    der = ssl.PEM_cert_to_DER_cert(cert.read_text())
    assert not_after(der) == expected.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("days", "status", "text"),
    [(400, Status.OK, ""), (20, Status.WARNING, "under 30"), (2, Status.CRITICAL, "under 7")],
)
async def test_cert_min_days(tls, certificates, days: int, status: Status, text: str):
    """[30, 7]: 400 days left is ok, 20 a warning, a nearly expired certificate critical."""
    server, context = tls
    context.load_cert_chain(*certificates[days])
    result = await run(url=server.url("/").replace("http:", "https:"), verify_tls=False,
                       cert_min_days=[30, 7])  # fmt: skip
    assert result.status is status, result.summary
    assert text in result.summary
    assert days - 1 < result.measurements["cert_days_left"] <= days


async def test_cert_min_days_with_a_verified_certificate(tls, certificates):
    """With verify_tls and the certificate as ca_file, expiry is judged the same way."""
    server, context = tls
    context.load_cert_chain(*certificates[20])
    cert, _key = certificates[20]
    result = await run(url=server.url("/").replace("http:", "https:"), ca_file=str(cert),
                       cert_min_days=30)  # fmt: skip
    assert result.status is Status.WARNING and result.summary.endswith("under 30")
    assert "the TLS certificate expires in" in result.summary


def test_cert_min_days_config_errors():
    """cert_min_days needs https and warning >= critical >= 0."""
    with pytest.raises(ValidationError, match="needs an https:// url"):
        HttpCheck.Config(name="w", type="http", url="http://x/", cert_min_days=30)
    with pytest.raises(ValidationError, match="warning >= critical"):
        HttpCheck.Config(name="w", type="http", url="https://x/", cert_min_days=[7, 30])
