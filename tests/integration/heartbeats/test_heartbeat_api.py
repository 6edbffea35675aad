"""Heartbeats over real HTTP (httpx and curl) into a running App, paging a real webhook sink."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from escalatord.app import App
from escalatord.core.status import Status
from escalatord.heartbeats import store as heartbeats
from tests.support import programs
from tests.support.app import eventually, free_port, page_everything, running_app
from tests.support.http_target import HttpTarget

TOKEN = "hl7-feed-token-0123456789"
NIGHTLY = "nightly-token-0123456789"
FLAKY = "flaky-token-0123456789ab"


@pytest.fixture(scope="module")
def sink() -> Iterator[HttpTarget]:
    with HttpTarget() as s:
        yield s


@pytest.fixture
async def app(tmp_path: Path, sink: HttpTarget) -> AsyncIterator[App]:
    sink.requests.clear()
    port = free_port()
    body = f"""
        [[check]]
        name = "hl7-feed"
        type = "heartbeat"
        every = "1h"
        grace = "1h"
        token = "{TOKEN}"
        labels = {{ category = "patient-care" }}

        [[check]]
        name = "nightly-job"
        type = "heartbeat"
        every = "1h"
        grace = "1h"
        max_runtime = "400ms"
        token = "{NIGHTLY}"

        [[check]]
        name = "flaky-job"
        type = "heartbeat"
        every = "1h"
        grace = "1h"
        failures = 2
        token = "{FLAKY}"

        [[check]]
        name = "own-port"
        type = "tcp"
        host = "127.0.0.1"
        port = {port}

        {page_everything(sink.url("/hook"))}
    """
    async with running_app(tmp_path / "escalatord.db", body, port) as running:
        yield running


@pytest.fixture
async def client(app: App) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=app.base_url, timeout=10) as c:  # type: ignore[attr-defined]
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def events(sink: HttpTarget, check: str) -> list[str]:
    return [r.json()["event"] for r in sink.requests if r.json()["incident"]["check"] == check]


async def signals(app: App, check: str) -> heartbeats.Signals | None:
    async with app.store.read() as conn:
        return await heartbeats.load(conn, check)


async def test_ping_is_stored_and_judged_ok(app: App, client: httpx.AsyncClient):
    """A POST with the bearer token is stored with its body and makes the check ok."""
    reply = await client.post(
        "/heartbeat/hl7-feed", content="120 ADT messages", headers=bearer(TOKEN)
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["signal"] == "success" and reply.json()["status"] == "ok"
    assert "120 ADT messages" in reply.json()["summary"]
    stored = await signals(app, "hl7-feed")
    assert stored is not None and stored.last_ping_at is not None
    assert stored.last_body == "120 ADT messages"
    assert app.monitor.states["hl7-feed"].status is Status.OK


@programs.needs("curl")
async def test_curl_get_with_token_in_url_and_post_with_header(app: App):
    """curl works both ways: GET with ?token= and POST with the Authorization header."""
    url = f"{app.base_url}/heartbeat/hl7-feed"  # type: ignore[attr-defined]
    for args in (
        [f"{url}?token={TOKEN}"],
        ["-X", "POST", "-H", f"Authorization: Bearer {TOKEN}", "--data-raw", "from curl", url],
    ):
        proc = await asyncio.create_subprocess_exec(
            "curl", "-fsS", "-m", "10", *args, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        assert b'"signal":"success"' in out
    stored = await signals(app, "hl7-feed")
    assert stored is not None and stored.last_body == "from curl"


async def test_wrong_or_missing_token_changes_nothing(app: App, client: httpx.AsyncClient):
    """A wrong token gets 403, none gets 401 with WWW-Authenticate; nothing is recorded."""
    wrong = await client.post("/heartbeat/hl7-feed/fail", headers=bearer("not-the-token-at-all"))
    assert wrong.status_code == 403
    assert wrong.json() == {"error": "wrong token for the heartbeat check 'hl7-feed'"}
    in_url = await client.get("/heartbeat/hl7-feed", params={"token": NIGHTLY})
    assert in_url.status_code == 403  # another check's token is wrong here
    missing = await client.post("/heartbeat/hl7-feed")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert "token" in missing.json()["error"]
    stored = await signals(app, "hl7-feed")
    assert stored is None or (stored.last_ping_at is None and stored.last_fail_at is None)
    assert app.monitor.states.get("hl7-feed") is None or (
        app.monitor.states["hl7-feed"].last_status is not Status.CRITICAL
    )


async def test_unknown_checks_signals_and_methods_are_refused(client: httpx.AsyncClient):
    """Unknown or non-heartbeat checks are 404, an unknown signal 400, HEAD 405: JSON errors."""
    assert (await client.post("/heartbeat/nope", headers=bearer(TOKEN))).status_code == 404
    not_heartbeat = await client.post("/heartbeat/own-port", headers=bearer(TOKEN))
    assert not_heartbeat.status_code == 404
    assert not_heartbeat.json() == {"error": "no heartbeat check named 'own-port'"}
    bad = await client.post("/heartbeat/hl7-feed/sideways", headers=bearer(TOKEN))
    assert bad.status_code == 400 and "/start, /fail or an exit code" in bad.json()["error"]
    assert (await client.post("/heartbeat/hl7-feed/256", headers=bearer(TOKEN))).status_code == 400
    assert (await client.head("/heartbeat/hl7-feed", headers=bearer(TOKEN))).status_code == 405


async def test_fail_pages_at_once_and_success_resolves(
    app: App, client: httpx.AsyncClient, sink: HttpTarget
):
    """/fail with a message pages at once with that message; a later success resolves it."""
    reply = await client.post(
        "/heartbeat/hl7-feed/fail", content="MLLP peer reset", headers=bearer(TOKEN)
    )
    assert reply.json()["status"] == "critical"
    await eventually(lambda: events(sink, "hl7-feed") == ["triggered"], what="the page")
    page = next(r.json() for r in sink.requests if r.json()["event"] == "triggered")
    assert "the job failed" in page["incident"]["summary"]
    assert "MLLP peer reset" in page["incident"]["summary"]
    await client.post("/heartbeat/hl7-feed", headers=bearer(TOKEN))
    await eventually(
        lambda: events(sink, "hl7-feed") == ["triggered", "resolved"], what="the resolution"
    )


async def test_exit_codes(app: App, client: httpx.AsyncClient, sink: HttpTarget):
    """/<code>: non-zero is a failure naming the code; 0 is a success."""
    reply = await client.post("/heartbeat/hl7-feed/2", headers=bearer(TOKEN))
    assert reply.json() == {
        "check": "hl7-feed",
        "signal": "fail",
        "exit_code": 2,
        "status": "critical",
        "summary": "the job failed with exit code 2, 0s ago",
    }
    ok = await client.get("/heartbeat/hl7-feed/0", params={"token": TOKEN})
    assert ok.json()["signal"] == "success" and ok.json()["status"] == "ok"
    await eventually(lambda: events(sink, "hl7-feed") == ["triggered", "resolved"], what="pages")


async def test_start_without_success_within_max_runtime_pages(
    app: App, client: httpx.AsyncClient, sink: HttpTarget
):
    """A /start with no success within `max_runtime` pages; the success then resolves."""
    await client.post("/heartbeat/nightly-job/start", headers=bearer(NIGHTLY))
    assert events(sink, "nightly-job") == []
    await eventually(lambda: events(sink, "nightly-job") == ["triggered"], what="overrun page")
    page = next(r.json() for r in sink.requests if r.json()["incident"]["check"] == "nightly-job")
    assert "not finished within max_runtime 400ms" in page["incident"]["summary"]
    await client.post("/heartbeat/nightly-job", headers=bearer(NIGHTLY))
    await eventually(
        lambda: events(sink, "nightly-job") == ["triggered", "resolved"], what="resolution"
    )


async def test_failures_counts_failed_runs_in_a_row(
    app: App, client: httpx.AsyncClient, sink: HttpTarget
):
    """With `failures = 2` one failed run does not page (not even on later evaluations); two do."""
    await client.post("/heartbeat/flaky-job/1", headers=bearer(FLAKY))
    await asyncio.sleep(0.6)  # three scheduled evaluations: none may count the failure again
    assert app.monitor.states["flaky-job"].hard is False
    assert events(sink, "flaky-job") == []
    await client.post("/heartbeat/flaky-job/1", headers=bearer(FLAKY))
    await eventually(lambda: events(sink, "flaky-job") == ["triggered"], what="the page")


async def test_body_is_cut_and_huge_bodies_refused(app: App, client: httpx.AsyncClient):
    """A long body is kept cut to 10,000 bytes; one over 1 MiB is refused and not recorded."""
    await client.post("/heartbeat/hl7-feed", content="a" * 50_000, headers=bearer(TOKEN))
    stored = await signals(app, "hl7-feed")
    assert stored is not None and stored.last_body == "a" * 10_000
    huge = await client.post(
        "/heartbeat/hl7-feed/fail", content=b"b" * (2 << 20), headers=bearer(TOKEN)
    )
    assert huge.status_code == 413
    stored = await signals(app, "hl7-feed")
    assert stored is not None and stored.last_fail_at is None
