"""Acknowledging from the page, end to end: a running App pages a real webhook sink, and a real
HTTP client follows the ack link in the page: confirm (GET), acknowledge (POST), and the
refusals for used, forged, expired and stale links."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from escalatord.app import App
from escalatord.config.loader import load_text
from escalatord.config.model import PolicyConfig
from escalatord.core.planning import snapshot
from escalatord.core.rules import Decision
from escalatord.incidents import service
from escalatord.notify.links import make_token
from escalatord.store.tables import ack_keys, ack_tokens, incidents
from tests.support.http_target import HttpTarget
from tests.support.net import free_port

DECISION = Decision(("r",), "critical", "p", "clinical-apps-lead", "", ("Call the vendor",))


@pytest.fixture
def sink() -> Iterator[HttpTarget]:
    with HttpTarget() as s:
        yield s


@asynccontextmanager
async def running(tmp_path: Path, sink: HttpTarget, daemon: str = "") -> AsyncIterator[App]:
    port = free_port()
    text = (
        textwrap.dedent(f"""
        [daemon]
        database = "sqlite:///{tmp_path}/escalatord.db"
        listen = "127.0.0.1:{port}"
        tick = "100ms"
    """)
        + textwrap.dedent(daemon)
        + textwrap.dedent(f"""
        [[policy]]
        name = "p"
          [[policy.level]]
          after = "0s"
          notify = ["oncall", "backup"]

        [[notifier]]
        name = "oncall"
        type = "webhook"
        url = "{sink.url("/oncall")}"

        [[notifier]]
        name = "backup"
        type = "webhook"
        url = "{sink.url("/backup")}"
    """)
    )
    app = App(load_text(text, env={}))
    await app.start()
    try:
        yield app
    finally:
        await app.stop(2.0)


async def open_incident(app: App, summary: str = "no heartbeat for 15m") -> int:
    policy = snapshot(
        PolicyConfig.model_validate(
            {"name": "p", "level": [{"after": "0s", "notify": ["oncall", "backup"]}]}
        )
    )
    now = datetime.now(UTC)
    async with app.store.write() as conn:
        incident_id, _ = await service.open_incident(
            conn,
            key="hl7-adt-feed",
            check="hl7-adt-feed",
            labels={},
            status="critical",
            summary=summary,
            decision=DECISION,
            policy_snapshot=policy,
            now=now,
        )
        await service.fire_due_steps(conn, now)
    app.dispatcher.wake()
    return incident_id


async def links(sink: HttpTarget, count: int = 2) -> dict[str, str]:
    """The ack_url of each page the sink got, by path, once `count` pages arrived."""
    for _ in range(500):
        pages = [r for r in sink.requests if r.json()["event"] == "triggered"]
        if len(pages) >= count:
            return {r.path: r.json()["incident"]["ack_url"] for r in pages}
        await asyncio.sleep(0.02)
    raise AssertionError("the pages never arrived")


async def status(app: App, incident_id: int) -> tuple[str, str | None]:
    async with app.store.read() as conn:
        row = (await conn.execute(select(incidents).where(incidents.c.id == incident_id))).one()
    return row.status, row.acknowledged_by


async def test_confirm_then_acknowledge_then_the_link_is_spent(tmp_path, sink):
    """GET shows who is acking what and changes nothing (link scanners may fetch it); POST
    acknowledges, everyone paged is told; the same link then gets a clear "already used"."""
    async with running(tmp_path, sink) as app, httpx.AsyncClient() as client:
        incident_id = await open_incident(app)
        url = (await links(sink))["/oncall"]
        assert url.startswith(f"http://{app.config.daemon.listen}/ack/{incident_id}.")

        for _ in range(3):  # a mail system's link scanner, a preview, the person
            page = await client.get(url)
            assert page.status_code == 200
        assert (await client.head(url)).status_code == 200
        assert await status(app, incident_id) == ("triggered", None)
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["referrer-policy"] == "no-referrer"
        for text in (
            f"Acknowledge incident {incident_id}?",
            "hl7-adt-feed is CRITICAL",
            "<dt>Severity</dt><dd>critical</dd>",
            "<dt>Acknowledging as</dt><dd>oncall (the page this link came in)</dd>",
            '<form method="post"',
        ):
            assert text in page.text

        done = await client.post(url, data={"name": "Alice Ng"})
        assert done.status_code == 200
        assert f"Incident {incident_id} acknowledged" in done.text
        assert await status(app, incident_id) == ("acknowledged", "Alice Ng (oncall)")

        for _ in range(200):  # both notifiers that were paged hear about it
            told = [r.path for r in sink.requests if r.json()["event"] == "acknowledged"]
            if len(told) == 2:
                break
            await asyncio.sleep(0.02)
        assert sorted(told) == ["/backup", "/oncall"]

        again = await client.post(url)
        assert again.status_code == 410 and "already used" in again.text
        assert "Alice Ng (oncall)" in again.text
        assert (await client.get(url)).status_code == 410
        async with app.store.read() as conn:
            timeline = await service.get_timeline(conn, incident_id)
            used = (await conn.execute(select(ack_tokens))).all()
        assert len(used) == 1 and used[0].recipient == "oncall"
        assert any(
            e.message == "acknowledged by Alice Ng (oncall) from the ack link sent to oncall"
            for e in timeline
        )


async def test_another_recipients_link_after_the_ack_says_who_took_it(tmp_path, sink):
    """Once one person acknowledged, the other page's link shows who did and changes nothing."""
    async with running(tmp_path, sink) as app, httpx.AsyncClient() as client:
        incident_id = await open_incident(app)
        urls = await links(sink)
        assert urls["/oncall"] != urls["/backup"]  # each recipient has its own link
        assert (await client.post(urls["/oncall"])).status_code == 200
        late = await client.post(urls["/backup"])
        assert late.status_code == 409
        assert f"Incident {incident_id} is already acknowledged" in late.text
        assert "by oncall" in late.text
        assert await status(app, incident_id) == ("acknowledged", "oncall")


async def test_forged_and_cut_links_are_refused_and_change_nothing(tmp_path, sink):
    """A link with a changed signature, another incident's number, or cut short by a mail
    program gets a clear 403 page; nothing is acknowledged."""
    async with running(tmp_path, sink) as app, httpx.AsyncClient() as client:
        incident_id = await open_incident(app)
        url = (await links(sink))["/oncall"]
        base, token = url.rsplit("/", 1)
        number, row, expires, signature = token.split(".")
        flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
        for bad in (
            f"{number}.{row}.{expires}.{flipped}",
            f"{int(number) + 1}.{row}.{expires}.{signature}",
            token[:-5],
            "<script>alert(1)<script>",
        ):
            for method in ("GET", "POST"):
                reply = await client.request(method, f"{base}/{bad}")
                assert reply.status_code == 403, (bad, method)
                assert "not a valid acknowledgement link" in reply.text
                assert "<script>" not in reply.text
        assert await status(app, incident_id) == ("triggered", None)


async def test_expired_link_is_refused_with_what_to_do_instead(tmp_path, sink):
    """A correctly signed link past its expiry gets 410 naming the incident and the CLI
    command; nothing is acknowledged."""
    async with running(tmp_path, sink) as app, httpx.AsyncClient() as client:
        incident_id = await open_incident(app)
        url = (await links(sink))["/oncall"]
        row = int(url.rsplit("/", 1)[1].split(".")[1])
        key = await app.dispatcher.links.key()
        stale = make_token(key, incident_id, row, datetime.now(UTC) - timedelta(minutes=1))
        reply = await client.post(f"{url.rsplit('/', 1)[0]}/{stale}")
        assert reply.status_code == 410
        assert "has expired" in reply.text and f"escalatord ack {incident_id}" in reply.text
        assert await status(app, incident_id) == ("triggered", None)


async def test_resolved_incident_link_and_escaped_page(tmp_path, sink):
    """After recovery the link says the incident is already resolved (409); text from the
    incident is shown escaped, never as markup."""
    async with running(tmp_path, sink) as app, httpx.AsyncClient() as client:
        incident_id = await open_incident(app, summary='<img src=x onerror="alert(1)">')
        url = (await links(sink))["/oncall"]
        page = await client.get(url)
        assert (
            "<img" not in page.text
            and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page.text
        )
        async with app.store.write() as conn:
            await service.resolve(conn, incident_id, by="recovery", now=datetime.now(UTC))
        reply = await client.post(url)
        assert reply.status_code == 409 and "already resolved" in reply.text
        assert await status(app, incident_id) == ("resolved", None)


async def test_generated_key_is_kept_in_the_database_and_survives_a_restart(tmp_path, sink, caplog):
    """Without ack_secret, one random key is stored in the database: a link sent before a
    restart still works after it, and the key never appears in the log."""
    async with running(tmp_path, sink) as app:
        incident_id = await open_incident(app)
        url = (await links(sink))["/oncall"]
        async with app.store.read() as conn:
            [key] = (await conn.execute(select(ack_keys.c.secret))).scalars().all()
    async with running(tmp_path, sink) as app, httpx.AsyncClient() as client:
        new_base = f"http://{app.config.daemon.listen}"
        reply = await client.post(new_base + "/ack/" + url.rsplit("/", 1)[1])
        assert reply.status_code == 200
        assert await status(app, incident_id) == ("acknowledged", "oncall")
    assert len(key) == 64 and key not in caplog.text


async def test_configured_secret_and_public_url_are_used(tmp_path, sink):
    """With ack_secret and public_url set, links start with the public URL and are signed with
    that secret (a token made with any other key is refused)."""
    daemon = """
        public_url = "https://escalatord.example.org/"
        ack_secret = "0123456789abcdef0123456789abcdef"
        ack_ttl = "2h"
    """
    async with running(tmp_path, sink, daemon) as app, httpx.AsyncClient() as client:
        incident_id = await open_incident(app)
        url = (await links(sink))["/oncall"]
        token = url.rsplit("/", 1)[1]
        assert url == f"https://escalatord.example.org/ack/{token}"
        expires = int(token.split(".")[2])
        assert abs(expires - (datetime.now(UTC) + timedelta(hours=2)).timestamp()) < 60
        local = f"http://{app.config.daemon.listen}/ack/"
        row = int(token.split(".")[1])
        other = make_token(
            b"another key entirely", incident_id, row, datetime.now(UTC) + timedelta(hours=1)
        )
        assert (await client.get(local + other)).status_code == 403
        assert (await client.get(local + token)).status_code == 200
        async with app.store.read() as conn:
            assert (await conn.execute(select(ack_keys))).all() == []  # nothing generated
