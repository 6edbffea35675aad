"""How a Store feeds its write health (store/health.py): which write transactions changed rows,
which errors are the database's and not the caller's, and the identity of the SQLite file."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.exc import DataError, IntegrityError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

from escalatord.store.health import FileId

# Errors a caller's statement causes (a broken constraint, a bad value): the database itself
# is fine, so they say nothing about whether it can be written.
CALLER_ERRORS = (IntegrityError, ProgrammingError, DataError)
WROTE = "escalatord_wrote"  # Connection.info key: this transaction changed rows


def track_writes(engine: AsyncEngine) -> None:
    """Mark a connection whose INSERT, UPDATE or DELETE changed rows (`info[WROTE]`), so
    Store.write() can tell a transaction that wrote from one that only read (the
    dispatcher's empty claims commit fine on a full disk: they must not count as the
    database being writable)."""

    @event.listens_for(engine.sync_engine, "after_cursor_execute")
    def _changed(conn: Connection, cursor: Any, _s: Any, _p: Any, context: Any, _m: Any) -> None:
        dml = context is not None and (context.isinsert or context.isupdate or context.isdelete)
        if dml and cursor.rowcount != 0:  # -1: the driver does not say; count it
            conn.info[WROTE] = True


def file_id(path: str) -> FileId | None:
    """(st_dev, st_ino) of the file at `path`; None when there is none."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino
