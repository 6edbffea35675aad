"""The database: engines, SQLite pragmas, the one-writer discipline, and migrations on open.

    store = Store("sqlite:////var/lib/escalatord/escalatord.db")
    await store.open()                        # creates the directory, migrates to head
    Store(url, create=False)                  # the CLI: a missing database is an error
    async with store.write() as conn:         # one write transaction, committed on exit
        await conn.execute(...)
    async with store.read() as conn:          # read-only; writing through it is an error
        rows = (await conn.execute(...)).all()
    await store.close()

SQLite (the embedded default) lets one connection write at a time, across every process that
opens the file (the daemon and a CLI command). Each Store therefore has ONE writer connection,
and its transactions start with BEGIN IMMEDIATE: a transaction that reads and then writes takes
the write lock up front, waiting up to busy_timeout for another writer, instead of failing with
SQLITE_BUSY_SNAPSHOT when it tries to upgrade a read lock. Writers take turns first come,
first served (store/writequeue.py) instead of failing at the pool after 30 s under load;
`write()` inside `write()` raises StoreError. Reads use a separate engine; WAL lets them run
beside the writer.

PostgreSQL serves several nodes: one pooled engine, ordinary transactions, and callers wrap a
SELECT in `store.for_update()` where two nodes could race for the same rows.

The schema is brought to head on `open()` (store/schema.py: a new database is created at
head, an older one migrated by Alembic, in migrations/). To add a migration, change tables.py
and HEAD_REVISION, then with a database at head: `alembic.command.revision(
schema.alembic_config(url), autogenerate=True, message="...", rev_id="0004")`, and review
what it wrote.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, nullcontext
from pathlib import Path
from typing import Any, Literal, TypeVar

from sqlalchemy import URL, Connection, Select, event, make_url, text
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from escalatord.errors import StoreError
from escalatord.redaction import Redactor
from escalatord.store import schema
from escalatord.store.health import FileId, WriteHealth, file_problem
from escalatord.store.tracking import CALLER_ERRORS, WROTE, file_id, track_writes
from escalatord.store.urls import database_url_problem, mask_url
from escalatord.store.writequeue import WriteQueue

BUSY_TIMEOUT_MS = 5000
READERS = 8  # SQLite reader connections, kept open for the daemon's life
# An unreachable PostgreSQL server fails open() after this long instead of hanging the daemon.
CONNECT_TIMEOUT = 10.0
# /healthz must answer promptly even when the database hangs.
HEALTH_TIMEOUT = 5.0
# pg_advisory_xact_lock key ("escalato" in ASCII): nodes starting together migrate one at a time.
MIGRATION_LOCK = 0x657363616C61746F
URL_FORMS = (
    "sqlite:///relative/path.db, sqlite:////absolute/path.db or "
    "postgresql://user:password@host:5432/dbname"
)

Dialect = Literal["sqlite", "postgresql"]
S = TypeVar("S", bound=Select[Any])


def async_url(url: str) -> URL:
    """Map a URL as users write it to the async driver escalatord uses (aiosqlite, asyncpg).

    Raises StoreError for anything else, naming the URL (password masked) and the forms accepted.
    """
    where = f"database URL {mask_url(url)!r} ([daemon] database)"
    if problem := database_url_problem(url):
        raise StoreError(f"{where} {problem}")
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"{where} is not a URL; write {URL_FORMS}") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "sqlite" and driver in ("", "pysqlite", "aiosqlite"):
        if not parsed.database or parsed.database == ":memory:":
            raise StoreError(f"{where} needs a file path: write {URL_FORMS}")
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres") and driver in ("", "asyncpg"):
        if not parsed.database:
            raise StoreError(f"{where} needs a database name: write {URL_FORMS}")
        return parsed.set(drivername="postgresql+asyncpg")
    raise StoreError(f"{where} is not supported; write {URL_FORMS}")


def sqlite_engine(
    url: URL, *, begin: str, foreign_keys: bool = True, query_only: bool = False, **kw: Any
) -> AsyncEngine:
    """An aiosqlite engine whose connections get escalatord's pragmas and whose transactions
    start with `begin` ("BEGIN IMMEDIATE" for writers, "BEGIN" for readers)."""
    engine = create_async_engine(url, **kw)
    # busy_timeout first, so that switching a new file to WAL waits for other openers.
    pragmas = [
        f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=NORMAL",
        f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}",
    ]
    if query_only:
        pragmas.append("PRAGMA query_only=ON")

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy's documented recipe: stop sqlite3 from emitting BEGIN itself (it would only
        # do so before the first write, never for a SELECT), so _on_begin decides the kind of
        # transaction. The pragmas run here, outside any transaction, where they take effect.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in pragmas:
                cursor.execute(pragma)
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin)

    return engine


class Store:
    """The database behind escalatord: SQLite file or PostgreSQL server, migrated on open.

    `Store(url)` checks the URL (StoreError if unsupported) but connects only in `open()`.
    Also an async context manager: `async with Store(url) as store: ...`.

    `create=False` (every command but `run`): `open()` refuses a database that does not exist
    (a missing SQLite file, or a database without escalatord's tables) instead of creating it,
    so a wrong path is reported, not answered from a new empty database.
    """

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url = url
        self.create = create
        self.masked_url = mask_url(url)
        self._url = async_url(url)
        self._writer: AsyncEngine | None = None
        self._reader: AsyncEngine | None = None
        # Whether writes succeed (store/health.py): fed by write(), read by /healthz.
        self.health = WriteHealth(now=time.monotonic())
        self._file_id: FileId | None = None  # SQLite: the file opened, (st_dev, st_ino)
        self.writes = WriteQueue(self.health)  # SQLite: writers wait here, first come first served

    @property
    def dialect(self) -> Dialect:
        """ "sqlite" or "postgresql"."""
        return "sqlite" if self._url.get_backend_name() == "sqlite" else "postgresql"

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Connect, creating the SQLite file and its directory if missing, and migrate to head.

        Raises StoreError, naming the URL and the fix, when the database cannot be opened or
        migrated, or (with `create=False`) does not exist. Opening a database already at head
        changes nothing.
        """
        if self._writer is not None:
            return
        self.writes = WriteQueue(self.health)  # a new one per open: it may be another loop
        try:
            if self.dialect == "sqlite":
                self._prepare_sqlite_file()
                self._writer = sqlite_engine(
                    self._url, begin="BEGIN IMMEDIATE", pool_size=1, max_overflow=0
                )
                # A fixed pool: every aiosqlite connection is a thread of its own, and overflow
                # connections were opened and closed per burst, a thread each (bench/RESULTS.md,
                # "Issue 6: the scenario suite, and the first round of speed work", Reading).
                # Past READERS, a read waits for a connection: reads are short, and SQLite
                # runs them one at a time per connection anyway. Never hold two at once.
                self._reader = sqlite_engine(
                    self._url, begin="BEGIN", query_only=True, pool_size=READERS, max_overflow=0
                )
            else:
                self._writer = self._reader = create_async_engine(
                    self._url,
                    pool_size=5,
                    max_overflow=5,
                    pool_pre_ping=True,  # survive a PostgreSQL restart under a long-running daemon
                    connect_args={"timeout": CONNECT_TIMEOUT},
                )
            await self._migrate()
            track_writes(self._writer)
            if self.dialect == "sqlite":
                self._file_id = file_id(self.path)
        except StoreError:
            await self.close()
            raise
        except Exception as exc:  # whatever failed, the user needs the URL and the fix
            await self.close()
            raise StoreError(self._cannot_open(exc)) from exc

    async def close(self) -> None:
        """Close every connection. The Store may be opened again."""
        writer, reader = self._writer, self._reader
        self._writer = self._reader = None
        if writer is not None:
            await writer.dispose()
        if reader is not None and reader is not writer:
            await reader.dispose()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a write transaction: committed when the block ends, rolled back if
        it raises. On SQLite the transaction holds the file's write lock from its first line.

        Its outcome feeds `health`: a commit that changed rows is a success, a database error
        (not a constraint the caller broke) a failure."""
        wrote = False
        turn = self.writes.turn(self.masked_url) if self.dialect == "sqlite" else nullcontext()
        try:
            async with turn, self._engine(self._writer).begin() as conn:
                # Read the mark only when the block ended well: after a cancellation the
                # connection may be invalidated, and touching it then would raise in place of
                # the CancelledError. A mark a failed transaction left is cleared at the next.
                conn.info.pop(WROTE, None)
                yield conn
                wrote = conn.info.pop(WROTE, False)
        except DBAPIError as exc:
            if not isinstance(exc, CALLER_ERRORS):
                self.health.failed(time.monotonic(), self._reason(exc))
            raise
        if wrote:
            self.health.wrote(time.monotonic())

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads: one consistent snapshot on SQLite, read-only on both."""
        async with self._engine(self._reader).connect() as conn:
            if self.dialect == "postgresql":
                # SQLite readers are query_only (set on connect); this is the same on PostgreSQL,
                # so a write through read() fails on both backends, not only on one.
                await conn.execution_options(postgresql_readonly=True)
            yield conn

    def for_update(self, statement: S) -> S:
        """`statement` with FOR UPDATE SKIP LOCKED on PostgreSQL, where another node may be
        taking the same rows; unchanged on SQLite, where the one writer already serialises."""
        if self.dialect == "postgresql":
            return statement.with_for_update(skip_locked=True)
        return statement

    @property
    def path(self) -> str:
        """SQLite: the database file's absolute path (after open); "" on PostgreSQL."""
        return (self._url.database or "") if self.dialect == "sqlite" else ""

    async def healthy(self) -> bool:
        """True when `problems()` finds none."""
        return not await self.problems()

    async def problems(self) -> list[str]:
        """What is wrong with the store, in words; [] when it answers a SELECT 1 within
        HEALTH_TIMEOUT seconds and writes succeed to the file it opened (store/health.py)."""
        if self._reader is None:
            return [f"the store {self.masked_url} is not open"]
        found = self.health.problems(time.monotonic())
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT), self._reader.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except TimeoutError:
            found.insert(0, f"the database did not answer a read within {HEALTH_TIMEOUT:.0f} s")
        except Exception as exc:  # a health check answers; it does not raise
            found.insert(0, f"the database does not answer a read: {self._reason(exc)}")
        return found

    def check_file(self) -> str | None:
        """SQLite: compare the file at the path with the one opened (deleted? replaced?) and
        record the answer in `health`; the problem in words, or None. Costs one stat()."""
        if self._file_id is None:
            return None
        problem = file_problem(self.path, self._file_id, file_id(self.path))
        self.health.file_checked(problem)
        return problem

    # -- internals ---------------------------------------------------------------------------

    def _engine(self, engine: AsyncEngine | None) -> AsyncEngine:
        if engine is None:
            raise StoreError(f"the store {self.masked_url} is not open: call open() first")
        return engine

    def _prepare_sqlite_file(self) -> None:
        path = Path(self._url.database or "")
        if not path.is_absolute():
            # Resolve now: a relative path must not change meaning if the process changes directory.
            path = Path.cwd() / path
            self._url = self._url.set(database=str(path))
        if path.is_dir():
            raise StoreError(
                f"cannot open database {self.masked_url}: {path} is a directory. "
                f"Fix: give a file path in [daemon] database, e.g. sqlite:///{path}/escalatord.db"
            )
        if not self.create and not path.exists():
            raise StoreError(self._missing(f"there is no database at {path}"))
        path.parent.mkdir(parents=True, exist_ok=True)

    async def _migrate(self) -> None:
        """Bring the schema to head; Alembic only when a database needs migrating (schema.py)."""
        async with self._engine(self._reader).connect() as conn:
            found = await conn.run_sync(schema.revisions)
        if found == (schema.HEAD_REVISION,):
            return  # at head: nothing to do, and no need to import Alembic
        if found is None and not self.create:
            raise StoreError(
                self._missing(f"the database {self.masked_url} has none of escalatord's tables")
            )
        if found is None and await self._locked(schema.create_at_head):
            return
        known, heads = schema.known_revisions()
        async with self._engine(self._reader).connect() as conn:
            current = set(await conn.run_sync(schema.current_heads))
        if current - known:
            raise StoreError(
                f"the database {self.masked_url} has schema revision "
                f"{', '.join(sorted(current - known))}, newer than this escalatord knows "
                f"(head {', '.join(sorted(heads))}). Fix: upgrade escalatord, or point "
                "[daemon] database at another database"
            )
        if current != heads:
            await self._locked(schema.upgrade)

    async def _locked(self, change: Callable[[Connection], bool]) -> bool:
        """Run a schema change in a transaction holding the migration lock; its answer."""
        # The lock (advisory on PostgreSQL, BEGIN IMMEDIATE on SQLite) is taken BEFORE Alembic
        # runs: it serialises nodes, and also two Stores of one process, which Alembic's global
        # `context` cannot run side by side (measured: they deadlock on PostgreSQL without it).
        if self.dialect == "postgresql":
            async with self._engine(self._writer).begin() as conn:
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                )
                return await conn.run_sync(change)
        # SQLite: foreign keys OFF while migrating, as SQLite's docs require for schema changes.
        # Batch migrations copy and drop tables, and dropping a parent table with foreign keys ON
        # would run its ON DELETE CASCADE and empty the child tables. The pragma only works
        # outside a transaction, hence a connection of its own; the check below keeps integrity.
        engine = sqlite_engine(
            self._url, begin="BEGIN IMMEDIATE", foreign_keys=False, poolclass=NullPool
        )
        try:
            async with engine.begin() as conn:
                changed = await conn.run_sync(change)
                broken = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all()
                if broken:
                    raise StoreError(
                        f"migrating {self.masked_url} would break foreign keys ({broken[:5]}); "
                        "nothing was changed. Fix: report this as a bug in the migration"
                    )
                return changed
        finally:
            await engine.dispose()

    def _reason(self, exc: BaseException) -> str:
        """The driver's own error, one line, password masked: "OperationalError: disk is full"."""
        cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
        reason = (str(cause).strip().splitlines() or [""])[0] or "no details"
        reason = f"{type(cause).__name__}: {reason}"
        if self._url.password:  # as written in the URL (percent-encoded) or as the driver saw it
            reason = Redactor([str(self._url.password)], min_length=1)(reason)
        return reason

    def _missing(self, what: str) -> str:
        """The refusal of a database that does not exist (`create=False`), with the fix."""
        return (
            f"{what}. Fix: start the daemon once with `escalatord run` (it creates the "
            f"database), or check [daemon] database (now {self.masked_url}) in the config"
        )

    def _cannot_open(self, exc: BaseException) -> str:
        reason = self._reason(exc)
        if self.dialect == "sqlite":
            fix = (
                f"make sure {self._url.database} can be created and written by the user "
                "escalatord runs as (its directory must be writable too), or set [daemon] "
                "database to another path"
            )
        else:
            where = f"{self._url.host or 'localhost'}:{self._url.port or 5432}"
            fix = (
                f"check that PostgreSQL is running and accepts connections at {where}, that "
                f"the user and password are right and that the database exists "
                f"(createdb {self._url.database}), or set [daemon] database"
            )
        return f"cannot open database {self.masked_url}: {reason}. Fix: {fix}"
