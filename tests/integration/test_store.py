"""The database layer on a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import asyncio
import sys
import traceback
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, delete, func, inspect, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError

from escalatord.errors import StoreError
from escalatord.store import tables
from escalatord.store.db import Store
from escalatord.store.schema import alembic_config
from tests.support.postgres import PostgresCluster, free_port

NOW = datetime(2026, 3, 1, 12, 30, 45, 123456, tzinfo=UTC)

# Another process writing to the same database, as `escalatord ack` does while the daemon runs.
WRITER_SCRIPT = """
import asyncio, sys
from escalatord.store import tables
from escalatord.store.db import Store

async def main(url):
    async with Store(url) as store, store.write() as conn:
        await conn.execute(tables.check_states.insert().values(
            check="from-subprocess", status="ok", hard=1, attempts=0, last_summary=""))

asyncio.run(main(sys.argv[1]))
"""


HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def incident(key: str, *, open_key: str | None = None, **values: object) -> dict[str, object]:
    row: dict[str, object] = dict(
        key=key,
        open_key=key if open_key is None else open_key,
        title=f"{key} is down",
        status="triggered",
        severity="critical",
        check=key,
        labels={"site": "hq"},
        steps=[],
        opened_at=NOW,
    )
    return row | values


def check_state(name: str, **values: object) -> dict[str, object]:
    return dict(check=name, status="ok", hard=1, attempts=0, last_summary="") | values


def outbox_row(key: str) -> dict[str, object]:
    return dict(
        key=key,
        notifier="ops-webhook",
        event="triggered",
        level=0,
        payload={},
        status="pending",
        created_at=NOW,
        next_attempt_at=NOW,
    )


def schema_diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, tables.metadata)


async def revision(store: Store) -> list[str]:
    async with store.read() as conn:
        return list((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())


async def test_open_creates_every_table_at_head(store: Store) -> None:
    """Opening a new database creates every table of the schema and records the head revision."""
    async with store.read() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert set(tables.metadata.tables) <= names
    assert await revision(store) == [HEAD]


async def test_reopening_at_head_keeps_schema_and_data(store_url: str) -> None:
    """Opening a database that is already at head again changes nothing and loses nothing."""
    async with Store(store_url) as first, first.write() as conn:
        await conn.execute(tables.check_states.insert().values(check_state("router")))
    async with Store(store_url) as again:
        assert await revision(again) == [HEAD]
        async with again.read() as conn:
            assert (await conn.execute(select(tables.check_states.c.check))).scalars().all() == [
                "router"
            ]
            assert await conn.run_sync(schema_diff) == []


async def test_stores_opening_a_new_database_together_both_succeed(store_url: str) -> None:
    """Two nodes (or the daemon and a CLI command) opening a new database at once both succeed,
    and the schema is created once."""
    one, two = Store(store_url), Store(store_url)
    try:
        await asyncio.gather(one.open(), two.open())
        assert await revision(one) == [HEAD]
        async with two.read() as conn:
            assert await conn.run_sync(schema_diff) == []
    finally:
        await asyncio.gather(one.close(), two.close())


async def test_utc_datetime_round_trips_as_aware_utc(store: Store) -> None:
    """Times come back as aware UTC datetimes, equal to the instant stored, whatever its zone."""
    paris = datetime(2026, 7, 1, 14, 0, 0, 500, tzinfo=timezone(timedelta(hours=2)))
    async with store.write() as conn:
        await conn.execute(tables.check_states.insert().values(check_state("a", since=NOW)))
        await conn.execute(tables.check_states.insert().values(check_state("b", since=paris)))
    async with store.read() as conn:
        rows = dict((await conn.execute(select(tables.check_states.c["check", "since"]))).all())
    assert rows["a"] == NOW and rows["a"].tzinfo is UTC
    assert rows["b"] == paris and rows["b"].tzinfo is UTC
    assert rows["b"].hour == 12


async def test_naive_datetime_is_refused(store: Store) -> None:
    """Storing a naive datetime is an error instead of a silently misread time."""
    with pytest.raises(StatementError, match="naive datetime"):
        async with store.write() as conn:
            await conn.execute(
                tables.check_states.insert().values(check_state("a", since=datetime(2026, 1, 1)))
            )


async def test_one_open_incident_per_key(store: Store) -> None:
    """A second open incident with the same key is refused; once the first closes it is allowed."""
    async with store.write() as conn:
        await conn.execute(tables.incidents.insert().values(incident("hq-router")))
    with pytest.raises(IntegrityError):
        async with store.write() as conn:
            await conn.execute(tables.incidents.insert().values(incident("hq-router")))
    async with store.write() as conn:
        await conn.execute(
            update(tables.incidents)
            .where(tables.incidents.c.open_key == "hq-router")
            .values(open_key=None, status="resolved", resolved_at=NOW)
        )
        await conn.execute(tables.incidents.insert().values(incident("hq-router")))
    async with store.read() as conn:
        count = select(func.count()).where(tables.incidents.c.key == "hq-router")
        assert (await conn.execute(count)).scalar_one() == 2


async def test_outbox_key_is_unique(store: Store) -> None:
    """The same notification cannot be queued twice: a duplicate outbox key is an IntegrityError."""
    async with store.write() as conn:
        await conn.execute(tables.outbox.insert().values(outbox_row("1:0:triggered:ops")))
    with pytest.raises(IntegrityError):
        async with store.write() as conn:
            await conn.execute(tables.outbox.insert().values(outbox_row("1:0:triggered:ops")))


async def test_deleting_an_incident_deletes_its_timeline(store: Store) -> None:
    """Foreign keys are enforced on both backends: an incident's timeline goes with it."""
    async with store.write() as conn:
        result = await conn.execute(tables.incidents.insert().values(incident("x")))
        incident_id = result.inserted_primary_key[0]
        await conn.execute(
            tables.timeline.insert().values(
                incident_id=incident_id, at=NOW, kind="opened", message=""
            )
        )
    async with store.write() as conn:
        await conn.execute(delete(tables.incidents).where(tables.incidents.c.id == incident_id))
    async with store.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(tables.timeline))).scalar() == 0


async def test_reads_cannot_write(store: Store) -> None:
    """A write through store.read() fails on both backends instead of being silently lost."""
    async with store.read() as conn:
        with pytest.raises(DBAPIError):
            await conn.execute(tables.check_states.insert().values(check_state("a")))
    async with store.write() as conn:  # the pooled connection is writable again for writers
        await conn.execute(tables.check_states.insert().values(check_state("a")))


async def test_concurrent_read_then_write_transactions_all_succeed(tmp_path) -> None:
    """On SQLite, 20 concurrent read-then-write transactions from two Stores on one file all
    succeed (no "database is locked") and none loses another's update."""
    url = f"sqlite:///{tmp_path}/escalatord.db"
    async with Store(url) as one, Store(url) as two:
        async with one.write() as conn:
            await conn.execute(tables.check_states.insert().values(check_state("counter")))

        async def bump(store: Store) -> None:
            attempts = tables.check_states.c.attempts
            async with store.write() as conn:
                seen = (await conn.execute(select(attempts))).scalar_one()
                await asyncio.sleep(0.001)  # let the other transactions run in between
                await conn.execute(update(tables.check_states).values(attempts=seen + 1))

        await asyncio.gather(*(bump(one if i % 2 else two) for i in range(20)))
        async with one.read() as conn:
            assert (await conn.execute(select(tables.check_states.c.attempts))).scalar() == 20


async def test_other_writers_proceed_while_a_reader_is_open(store_url: str) -> None:
    """While one Store holds a read open, another Store and another process can both write."""
    async with Store(store_url) as daemon, Store(store_url) as other:
        async with daemon.read() as reader:
            await reader.execute(select(tables.check_states))  # the read is now in progress
            async with other.write() as conn:
                await conn.execute(tables.check_states.insert().values(check_state("from-store")))
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-c", WRITER_SCRIPT, store_url, stderr=asyncio.subprocess.PIPE
            )
            _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
            assert process.returncode == 0, stderr.decode()
        async with daemon.read() as conn:
            names = set((await conn.execute(select(tables.check_states.c.check))).scalars())
        assert names == {"from-store", "from-subprocess"}


async def test_for_update_skips_rows_another_writer_holds(store: Store) -> None:
    """On PostgreSQL a second writer skips rows a first writer has locked with for_update();
    on SQLite, where the one writer serialises, the statement is left unchanged."""
    query = select(tables.check_states.c.check).order_by(tables.check_states.c.check)
    if store.dialect == "sqlite":
        assert store.for_update(query) is query
        return
    async with store.write() as conn:
        await conn.execute(tables.check_states.insert(), [check_state("a"), check_state("b")])
    async with store.write() as first:
        taken = (await first.execute(store.for_update(query.limit(1)))).scalars().all()
        async with store.write() as second:
            rest = (await second.execute(store.for_update(query))).scalars().all()
    assert (taken, rest) == (["a"], ["b"])


async def test_healthy_reports_whether_the_database_answers(store_url: str) -> None:
    """healthy() is True while the store is open and False once it is closed."""
    store = Store(store_url)
    await store.open()
    assert await store.healthy() is True
    await store.close()
    assert await store.healthy() is False


async def test_database_newer_than_escalatord_is_refused(store_url: str) -> None:
    """A database migrated by a newer escalatord is refused with a message saying to upgrade."""
    async with Store(store_url) as store, store.write() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError, match=r"9999.*upgrade escalatord"):
        await Store(store_url).open()


async def test_sqlite_directory_is_created(tmp_path, monkeypatch) -> None:
    """A missing directory for the SQLite file is created, for absolute and relative paths."""
    async with Store(f"sqlite:///{tmp_path}/new/sub/escalatord.db") as store:
        assert await store.healthy()
    monkeypatch.chdir(tmp_path)
    async with Store("sqlite:///relative/dir/escalatord.db") as store:
        assert await store.healthy()
    assert (tmp_path / "new/sub/escalatord.db").is_file()
    assert (tmp_path / "relative/dir/escalatord.db").is_file()


@pytest.mark.parametrize("where", ["under-a-file", "a-directory"])
async def test_unusable_sqlite_path_raises_store_error(tmp_path, where: str) -> None:
    """A SQLite path that cannot be a database raises StoreError naming the URL and the fix."""
    (tmp_path / "afile").write_text("not a directory")
    path = tmp_path / "afile" / "escalatord.db" if where == "under-a-file" else tmp_path
    url = f"sqlite:///{path}"
    with pytest.raises(StoreError) as caught:
        await Store(url).open()
    assert url in str(caught.value)
    assert "Fix:" in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "mysql://escalatord:hunter2@127.0.0.1/escalatord",
        "postgresql+psycopg2://escalatord:hunter2@127.0.0.1/escalatord",
        "sqlite:///:memory:",
        "just a path",
    ],
)
def test_unsupported_url_raises_store_error(url: str) -> None:
    """An unsupported URL raises StoreError listing the accepted forms, without the password."""
    with pytest.raises(StoreError, match=r"postgresql://user:password@host") as caught:
        Store(url)
    assert "hunter2" not in str(caught.value)


async def test_unreachable_postgresql_raises_store_error_with_password_masked() -> None:
    """An unreachable PostgreSQL raises StoreError naming the URL with the password masked."""
    port = free_port()  # nothing listens there: the connection is refused on loopback
    url = f"postgresql://escalatord:s3cret-pw@127.0.0.1:{port}/escalatord"
    with pytest.raises(StoreError) as caught:
        await Store(url).open()
    message = str(caught.value)
    assert f"postgresql://escalatord:***@127.0.0.1:{port}/escalatord" in message
    assert f"127.0.0.1:{port}" in message and "Fix:" in message
    assert "s3cret-pw" not in "".join(traceback.format_exception(caught.value))


async def test_missing_postgresql_database_raises_store_error(pg_cluster: PostgresCluster) -> None:
    """A PostgreSQL database that does not exist raises StoreError saying how to create it."""
    with pytest.raises(StoreError, match="createdb no_such_db"):
        await Store(pg_cluster.url("no_such_db")).open()
