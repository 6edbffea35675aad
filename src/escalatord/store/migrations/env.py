"""Alembic's environment for escalatord.

`Store.open()` runs migrations itself: it opens the transaction (BEGIN IMMEDIATE on SQLite, an
advisory lock on PostgreSQL) and hands its connection in `config.attributes["connection"]`.
Developer commands run outside a Store pass a URL in `config.attributes["url"]` instead (see
`escalatord.store.schema.alembic_config`); `--sql` (offline) mode prints the SQL for that URL.
There is deliberately no logging.config.fileConfig() here: the daemon owns logging.
"""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.pool import NullPool

from escalatord.store.tables import UTCDateTime, metadata

config = context.config


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    # UTCDateTime converts in Python only; migrations declare the column type it stores.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


def _options(dialect_name: str) -> dict[str, Any]:
    return {
        "target_metadata": metadata,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        "render_as_batch": dialect_name == "sqlite",
        "compare_type": True,
        "render_item": _render_item,
    }


def run_with_connection(connection: Connection) -> None:
    context.configure(connection=connection, **_options(connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()


async def run_with_url(url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    from escalatord.store.db import async_url

    engine = create_async_engine(async_url(url), poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_with_connection)
            await connection.commit()
    finally:
        await engine.dispose()


def run_offline(url: str) -> None:
    from escalatord.store.db import async_url

    parsed = async_url(url)
    context.configure(url=parsed, literal_binds=True, **_options(parsed.get_backend_name()))
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_with_connection(connection)
else:
    url = config.attributes.get("url")
    if url is None:
        raise RuntimeError(
            "escalatord's migrations run from Store.open(); for developer commands build the "
            "config with escalatord.store.schema.alembic_config(url)"
        )
    if context.is_offline_mode():
        run_offline(url)
    else:
        asyncio.run(run_with_url(url))
