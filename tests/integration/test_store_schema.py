"""How the store brings a database's schema to head, on a real SQLite file and PostgreSQL.

A new database is created from tables.py and stamped at head; an older one is migrated by
Alembic. Both roads must end in the same schema, and neither may lose a row.
"""

from __future__ import annotations

import subprocess
import sys

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from escalatord.store import schema, tables
from escalatord.store.db import Store, async_url


def schema_diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, tables.metadata)


def alembic_heads(connection: Connection) -> tuple[str, ...]:
    return MigrationContext.configure(connection).get_current_heads()


async def migrate_with_alembic(url: str, target: str) -> None:
    """Run the migration scripts on `url` up to `target`, as an older escalatord did."""

    def upgrade(connection: Connection) -> None:
        config = schema.alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, target)

    engine = create_async_engine(async_url(url))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade)
    finally:
        await engine.dispose()


async def test_new_database_is_at_head_for_alembic_too(store_url: str) -> None:
    """A new database created by the store is one Alembic reads as at head, with the schema
    of tables.py: a later migration applies to it as to a migrated one."""
    async with Store(store_url) as store, store.read() as conn:
        assert await conn.run_sync(alembic_heads) == (schema.HEAD_REVISION,)
        assert await conn.run_sync(schema_diff) == []


async def test_migrations_give_the_schema_of_tables_py(store_url: str) -> None:
    """Every migration run from an empty database ends in exactly the schema tables.py
    defines (names and types included), which the store then takes as at head."""
    await migrate_with_alembic(store_url, "head")
    async with Store(store_url) as store, store.read() as conn:
        assert await conn.run_sync(schema_diff) == []
        assert await conn.run_sync(alembic_heads) == (schema.HEAD_REVISION,)


async def test_older_database_is_migrated_keeping_its_rows(store_url: str) -> None:
    """A database made by the first release is migrated to head on open, and its check
    states survive."""
    await migrate_with_alembic(store_url, "0001")
    engine = create_async_engine(async_url(store_url))
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    'INSERT INTO check_states ("check", status, hard, attempts, last_summary) '
                    "VALUES ('router', 'ok', 1, 0, 'up')"
                )
            )
    finally:
        await engine.dispose()
    async with Store(store_url) as store, store.read() as conn:
        assert await conn.run_sync(alembic_heads) == (schema.HEAD_REVISION,)
        assert await conn.run_sync(schema_diff) == []
        rows = (await conn.execute(select(tables.check_states.c.check))).scalars().all()
        assert rows == ["router"]


OPEN_TWICE = """
import asyncio, sys
from escalatord.store.db import Store

async def main(url):
    for _ in range(2):  # a new database, then one at head
        async with Store(url):
            pass
    print("alembic" in sys.modules)

asyncio.run(main(sys.argv[1]))
"""


def test_new_and_current_databases_open_without_alembic(store_url: str) -> None:
    """Creating a new database and opening one at head never import Alembic, whose ~0.5 s of
    imports would otherwise be part of every start."""
    done = subprocess.run(
        [sys.executable, "-c", OPEN_TWICE, store_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "False", done.stderr
