"""Shared fixtures, kept small and generic; fixtures for one area live beside its tests.

- `pg_cluster`: a throwaway PostgreSQL cluster for the session (tests needing it are skipped,
  with the reason printed at the end, when PostgreSQL is not installed).
- `store_url`: a fresh database URL per test, parametrised over ["sqlite", "postgresql"].
- `store`: an open `Store` on `store_url`, closed after the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from escalatord.store.db import Store
from tests.support import postgres

_pg_skipped: list[str] = []


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[postgres.PostgresCluster]:
    """A PostgreSQL cluster on a free loopback port, removed at the end of the session."""
    bindir = postgres.find_bindir()
    if bindir is None:
        reason = f"PostgreSQL not found on PATH or in /usr/lib/postgresql: {postgres.INSTALL_HINT}"
        _pg_skipped.append(reason)
        pytest.skip(reason)
    cluster = postgres.start(bindir)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A URL, as users write it, of a new empty database: a file in tmp_path, or a new
    PostgreSQL database in the session's cluster."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/escalatord.db"  # tmp_path is absolute: sqlite:////...
    cluster: postgres.PostgresCluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database()


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """An open Store on a fresh database, migrated to head."""
    async with Store(store_url) as opened:
        yield opened


def pytest_terminal_summary(terminalreporter) -> None:
    for reason in _pg_skipped:
        terminalreporter.write_line(f"PostgreSQL tests skipped: {reason}", yellow=True)
