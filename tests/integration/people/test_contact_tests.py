"""Contact tests in the store (people/confirmations.py) and the confirm link's route
(api/confirm.py), on a real SQLite file and a real PostgreSQL server: a test is a contact_tests
row and a `test` outbox row for the dispatcher; GET shows, POST confirms once; expired,
forged, ack and used links are refused with a page that says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select
from starlette.applications import Starlette

from escalatord.api import confirm as confirm_api
from escalatord.notify.links import make_token as make_ack_token
from escalatord.people import confirmations
from escalatord.people.confirmations import Contact
from escalatord.store.db import Store
from escalatord.store.tables import contact_tests, outbox

KEY = b"k" * 32
ANA = (
    Contact("ana", "Ana Lopez", 0, "mail", "ana@example.org"),
    Contact("ana", "Ana Lopez", 1, "sms", "+15550100", timedelta(minutes=5)),
)


async def send(store: Store, contacts=ANA, now=None, ttl=timedelta(days=7)):
    async with store.write() as conn:
        return await confirmations.send_tests(
            conn,
            list(contacts),
            key=KEY,
            base_url="http://esc.test",
            now=now or datetime.now(UTC),
            by="carol",
            ttl=ttl,
        )


async def test_a_test_is_a_row_and_an_outbox_message_to_the_contact(store: Store) -> None:
    """One contact_tests row and one pending `test` outbox row per contact, sent now (not
    after the contact's `after`), to the person at the contact's address."""
    sent = await send(store)
    assert [s.test.contact for s in sent] == [0, 1]
    async with store.read() as conn:
        rows = (await conn.execute(select(outbox).order_by(outbox.c.id))).all()
        stored = (await conn.execute(select(contact_tests))).all()
    assert len(stored) == 2
    assert [(r.notifier, r.person, r.address, r.event, r.status) for r in rows] == [
        ("mail", "ana", "ana@example.org", "test", "pending"),
        ("sms", "ana", "+15550100", "test", "pending"),
    ]
    assert rows[1].incident_id is None and rows[1].next_attempt_at == rows[0].next_attempt_at
    assert [r.key for r in rows] == [s.test.outbox_key for s in sent]
    assert sent[1].url in rows[1].payload["summary"]
    assert rows[1].payload["person"] == {"name": "ana", "full_name": "Ana Lopez"}


async def test_confirming_works_once_and_standings_show_the_newest(store: Store) -> None:
    first, _ = await send(store, now=datetime(2026, 12, 1, tzinfo=UTC))
    now = datetime(2026, 12, 2, tzinfo=UTC)
    async with store.write() as conn:
        test, done = await confirmations.confirm(conn, first.test.id, now=now, source="1.2.3.4")
        again, twice = await confirmations.confirm(conn, first.test.id, now=now, source="x")
        missing = await confirmations.confirm(conn, 9999, now=now, source="x")
    assert done and not twice and missing == (None, False)
    assert test is not None and (test.confirmed_at, test.confirmed_from) == (now, "1.2.3.4")
    assert again == test
    newer = await send(store, now=datetime(2026, 12, 3, tzinfo=UTC))
    async with store.read() as conn:
        found = await confirmations.standings(conn)
        none = await confirmations.standings(conn, persons=["bob"])
    mail = found[("ana", "mail", "ana@example.org")]
    assert mail.last_sent == newer[0].test  # the newest test, not yet confirmed
    assert mail.delivery == "pending"
    assert mail.confirmed_at == now  # the older test's confirmation still counts
    assert found[("ana", "sms", "+15550100")].confirmed_at is None
    assert none == {}


def client(store: Store) -> httpx.AsyncClient:
    async def key() -> bytes:
        return KEY

    app = Starlette(routes=confirm_api.routes(confirm_api.ConfirmServices(key=key, store=store)))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://esc.test")


async def test_get_shows_post_confirms_and_a_used_link_is_refused(store: Store) -> None:
    [sent] = await send(store, ANA[:1])
    path = sent.url.removeprefix("http://esc.test")
    async with client(store) as http:
        shown = await http.get(path)
        assert shown.status_code == 200 and "Confirm this contact?" in shown.text
        assert "ana@example.org" in shown.text and 'method="post"' in shown.text
        async with store.read() as conn:
            assert (await confirmations.find(conn, sent.test.id)).confirmed_at is None
        posted = await http.post(path)
        assert posted.status_code == 200 and "Contact confirmed" in posted.text
        assert posted.headers["cache-control"] == "no-store"
        used = await http.post(path)
        assert used.status_code == 410 and "already used" in used.text
        assert (await http.get(path)).status_code == 410


async def test_expired_forged_and_ack_links_confirm_nothing(store: Store) -> None:
    [sent] = await send(store, ANA[:1], now=datetime.now(UTC) - timedelta(days=8))
    expired = sent.url.removeprefix("http://esc.test")
    [fresh] = await send(store, ANA[:1])
    token = fresh.url.rsplit("/", 1)[1]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    ack = make_ack_token(KEY, 1, fresh.test.id, datetime.now(UTC) + timedelta(days=1))
    async with client(store) as http:
        gone = await http.post(expired)
        assert gone.status_code == 410 and "has expired" in gone.text
        for bad in (forged, ack, "nonsense"):
            refused = await http.post(f"/confirm/{bad}")
            assert refused.status_code == 403, bad
            assert "not a valid confirmation link" in refused.text
    async with store.read() as conn:
        found = await confirmations.standings(conn)
    assert found[("ana", "mail", "ana@example.org")].confirmed_at is None


async def test_a_signed_link_to_a_test_that_is_gone_says_so(store: Store) -> None:
    token = confirmations.make_token(KEY, 777, datetime.now(UTC) + timedelta(days=1))
    async with client(store) as http:
        answer = await http.post(f"/confirm/{token}")
    assert answer.status_code == 404 and "no longer exists" in answer.text


async def test_a_database_at_0007_is_migrated_keeping_its_outbox(store_url: str) -> None:
    """0008 only adds contact_tests: a database made by 0007 keeps its outbox rows, and tests
    can be written and confirmed in it at once."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from escalatord.store.db import async_url
    from tests.integration.test_store_schema import migrate_with_alembic

    await migrate_with_alembic(store_url, "0007")
    engine = create_async_engine(async_url(store_url))
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO outbox (key, notifier, event, level, payload, status, attempts, "
                    "created_at, next_attempt_at) VALUES ('old', 'mail', 'test', 0, '{}', "
                    "'delivered', 1, '2026-12-01 00:00:00', '2026-12-01 00:00:00')"
                )
            )
    finally:
        await engine.dispose()
    async with Store(store_url) as store:
        [sent] = await send(store, ANA[:1])
        async with store.write() as conn:
            _, done = await confirmations.confirm(
                conn, sent.test.id, now=datetime.now(UTC), source="t"
            )
            keys = (await conn.execute(select(outbox.c.key).order_by(outbox.c.id))).scalars()
            assert done and list(keys) == ["old", sent.test.outbox_key]
