"""The console served by a running App on loopback: the board with live fragment, the public
status page and its absence, the ack link without a session, and the API unchanged beside it."""

from __future__ import annotations

import asyncio
import dataclasses
import textwrap
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from escalatord.app import App
from escalatord.config.model import PolicyConfig
from escalatord.core.planning import snapshot
from escalatord.core.rules import Decision
from escalatord.incidents import service
from escalatord.store.tables import ack_keys
from tests.support.app import eventually, page_everything, running_app
from tests.support.console import persons_toml, sign_in
from tests.support.http_target import HttpTarget
from tests.support.net import free_port

DECISION = Decision(("everything",), "critical", "page", "network-team", "https://wiki.internal/rb",
                    ("Call the vendor",))  # fmt: skip
INTERNAL = ("127.0.0.1", "wiki.internal", "network-team", "Vera", "vera", "router-boston",
            "web-paris", "refused", "10.9.8.7")  # fmt: skip


@pytest.fixture
def sink() -> Iterator[HttpTarget]:
    with HttpTarget() as s:
        yield s


def body(sink: HttpTarget, web: str) -> str:
    closed = free_port()
    return (
        textwrap.dedent(f"""
        [web]
        {web}

        [[category]]
        name = "patient-care"
        priority = 1
        [[category]]
        name = "office"
        priority = 3

        [[check]]
        name = "router-boston"
        type = "tcp"
        host = "127.0.0.1"
        port = {closed}
        description = "core router 10.9.8.7"
        labels = {{ site = "boston" }}

        [[check]]
        name = "web-paris"
        type = "tcp"
        host = "127.0.0.1"
        port = {sink.port}
        labels = {{ site = "paris" }}
        """)
        + page_everything(sink.url("/hook"))
        + '\n[[rule]]\nname = "care"\npolicy = "page"\ncategory = "patient-care"\n'
        + 'match = { site = "boston" }\n'
        + persons_toml()
    )


@asynccontextmanager
async def console_app(tmp_path: Path, sink: HttpTarget, web: str) -> AsyncIterator[App]:
    async with running_app(tmp_path / "escalatord.db", body(sink, web)) as app:
        yield app


async def open_incident(app: App, key: str, category: str | None, priority: int | None) -> int:
    """An incident opened through the service functions, as the engine opens one."""
    policy = snapshot(
        PolicyConfig.model_validate({"name": "page", "level": [{"after": "0s",
                                                                 "notify": ["sink"]}]})
    )  # fmt: skip
    now = datetime.now(UTC)
    decision = dataclasses.replace(DECISION, category=category, priority=priority)
    async with app.store.write() as conn:
        incident_id, _ = await service.open_incident(
            conn, key=key, check=key, labels={}, status="critical", summary=f"{key} is down",
            decision=decision, policy_snapshot=policy, now=now,
        )  # fmt: skip
        await service.fire_due_steps(conn, now)
    app.dispatcher.wake()
    return incident_id


async def test_board_shows_checks_by_site_and_open_incidents_by_priority(tmp_path, sink):
    """Signed in, the board lists each site's checks with state and since when, and open
    incidents most urgent first; the fragment the page's script fetches has the same."""
    async with console_app(tmp_path, sink, "enabled = true") as app:
        await eventually(lambda: app.monitor.states.get("router-boston") is not None
                         and app.monitor.states["router-boston"].status.value == "critical",
                         what="router-boston critical")  # fmt: skip
        office = await open_incident(app, "printer-paris", "office", 3)
        care = await open_incident(app, "pacs-boston", "patient-care", 1)
        async with httpx.AsyncClient(base_url=app.base_url) as client:  # type: ignore[attr-defined]
            assert (await client.get("/")).status_code == 303
            assert (await sign_in(client, "vera")).status_code == 303
            board = await client.get("/")
            assert board.status_code == 200
            assert board.headers["content-security-policy"].startswith("default-src 'self'")
            text = board.text
            assert "Vera Example" in text and "(viewer)" in text
            assert text.index("boston") < text.index("paris")
            assert 'data-check="router-boston"' in text and 'data-check="web-paris"' in text
            assert text.index(f'data-incident="{care}"') < text.index(f'data-incident="{office}"')
            assert 'data-refresh="/board/fragment"' in text
            fragment = await client.get("/board/fragment")
            assert fragment.status_code == 200 and "<html" not in fragment.text
            assert f'data-incident="{care}"' in fragment.text
            assert (await client.get("/static/console.js")).status_code == 200
            assert (await client.get("/static/console.css")).status_code == 200
        async with app.store.read() as conn:  # no [web] secret: the key is kept with the ack key
            keys = set((await conn.execute(select(ack_keys.c.name))).scalars())
        assert "web-sessions" in keys
        async with httpx.AsyncClient(base_url=app.base_url) as stranger:  # type: ignore[attr-defined]
            assert (await stranger.get("/board/fragment")).status_code == 401


async def test_status_is_public_with_no_internal_detail(tmp_path, sink):
    """/status names sites and categories with one word each and nothing internal: no check,
    host, runbook, owner or person; no session is needed and none is set."""
    async with console_app(tmp_path, sink, "enabled = true\npublic_status = true") as app:
        await eventually(lambda: app.monitor.states.get("router-boston") is not None
                         and app.monitor.states["router-boston"].status.value == "critical"
                         and app.monitor.states.get("web-paris") is not None,
                         what="both checks ran")  # fmt: skip
        await open_incident(app, "pacs-boston", "patient-care", 1)
        async with httpx.AsyncClient(base_url=app.base_url) as client:  # type: ignore[attr-defined]
            page = await client.get("/status")
        assert page.status_code == 200 and "set-cookie" not in page.headers
        text = page.text
        assert '<span>boston</span> <span class="state down">down</span>' in text
        assert '<span>paris</span> <span class="state up">up</span>' in text
        assert '<span>patient-care</span> <span class="state down">down</span>' in text
        for secret in INTERNAL:
            assert secret not in text, secret


async def test_status_is_404_unless_public_status(tmp_path, sink):
    """With public_status off (the default) /status does not exist."""
    async with console_app(tmp_path, sink, "enabled = true") as app:
        async with httpx.AsyncClient(base_url=app.base_url) as client:  # type: ignore[attr-defined]
            assert (await client.get("/status")).status_code == 404


async def test_console_off_leaves_the_api_as_it_was(tmp_path, sink):
    """Without [web] enabled, / and /login are the API's JSON 404, and /healthz answers."""
    async with console_app(tmp_path, sink, "enabled = false") as app:
        async with httpx.AsyncClient(base_url=app.base_url) as client:  # type: ignore[attr-defined]
            for path in ("/", "/login", "/status"):
                answer = await client.get(path)
                assert answer.status_code == 404 and answer.json() == {"error": "not found"}
            assert (await client.get("/healthz")).status_code == 200


async def test_api_and_ack_links_work_without_a_console_session(tmp_path, sink):
    """With the console on, /healthz, /metrics, the API's JSON errors and an ack link from a
    page work as before, with no session: the ack link acknowledges."""
    async with console_app(tmp_path, sink, "enabled = true") as app:
        incident_id = await open_incident(app, "pacs-boston", "patient-care", 1)
        for _ in range(500):
            pages = [r.json() for r in sink.requests if r.json().get("event") == "triggered"
                     and r.json()["incident"]["id"] == str(incident_id)]  # fmt: skip
            if pages:
                break
            await asyncio.sleep(0.02)
        url = pages[0]["incident"]["ack_url"]
        async with httpx.AsyncClient(base_url=app.base_url) as client:  # type: ignore[attr-defined]
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get("/metrics")).status_code == 200
            missing = await client.get("/api/v1/nothing")
            assert missing.status_code == 404 and missing.json() == {"error": "not found"}
            listing = await client.get("/api/v1/incidents")  # no [api] read_tokens: refused
            assert listing.status_code == 403 and "error" in listing.json()
            confirm = await client.get(url)
            assert confirm.status_code == 200 and "Acknowledge incident" in confirm.text
            done = await client.post(url, data={"name": "Alice"})
            assert done.status_code == 200
        async with app.store.read() as conn:
            row = await service.get(conn, incident_id)
        assert row.status == "acknowledged"
