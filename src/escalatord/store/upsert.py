"""INSERT … ON CONFLICT in the connection's own dialect.

Both backends spell upserts alike but SQLAlchemy builds them per dialect. The PostgreSQL
dialect is imported only on PostgreSQL, where the engine has already loaded it: an embedded
SQLite daemon starts sooner without it (bench/RESULTS.md, "Issue 6: start-up under 2 s").
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection


def insert(conn: AsyncConnection, table: Table) -> Any:
    """An INSERT into `table` with `.on_conflict_do_update()` / `.excluded` for `conn`."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(table)
