"""The database schema's revision: reading it, creating a new database at head, migrating.

Alembic (migrations/) is the one way an existing database changes. Importing it (mako, its
script machinery) is a large share of a first start (bench/RESULTS.md, "Issue 6: start-up
under 2 s"), so it is only imported when there is work for it:

- a database stamped with HEAD_REVISION is left as it is;
- a new database (none of escalatord's tables) is created from tables.py and stamped at
  head in one transaction, as Alembic's cookbook does for new databases ("create_all, then
  stamp head"). tests/integration/test_store.py checks that the migrations and tables.py give
  the same schema, so both roads lead to one database;
- anything else (an older revision) is upgraded by Alembic.

These functions take a synchronous Connection (`AsyncConnection.run_sync`); the caller holds
the migration lock (store/db.py) around the ones that change the database.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Column, Connection, MetaData, PrimaryKeyConstraint, String, Table, inspect

from escalatord.store import tables

if TYPE_CHECKING:
    from alembic.config import Config

# The newest migration. tests/unit/test_store_head.py checks it against the migration scripts.
HEAD_REVISION = "0012"
MIGRATIONS = Path(__file__).with_name("migrations")

# Alembic's own version table, as Alembic creates it (alembic/runtime/migration.py).
_VERSION = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config for escalatord's migrations, built in code: no alembic.ini, and no
    logging setup (the daemon owns logging). `url` is only for developer commands run outside
    `Store.open()`, e.g. autogenerating a revision; it is passed to env.py in `attributes`."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.attributes["url"] = url
    return config


def revisions(connection: Connection) -> tuple[str, ...] | None:
    """The revisions the database is stamped with, read without Alembic; None for a new
    database (none of escalatord's tables, no stamp); () for tables without a stamp."""
    names = set(inspect(connection).get_table_names())
    if _VERSION.name not in names:
        return None if names.isdisjoint(tables.metadata.tables) else ()
    rows = connection.execute(_VERSION.select())
    return tuple(sorted(row[0] for row in rows))


def create_at_head(connection: Connection) -> bool:
    """Create a new database's schema from tables.py and stamp it at head. False, changing
    nothing, when the database is not new (another node got there first: asked again here,
    under the lock)."""
    if revisions(connection) is not None:
        return False
    tables.metadata.create_all(connection)
    _VERSION.create(connection)
    connection.execute(_VERSION.insert().values(version_num=HEAD_REVISION))
    return True


def known_revisions() -> tuple[set[str], set[str]]:
    """(every revision of the migration scripts, the heads among them): Alembic is imported."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    return {r.revision for r in script.walk_revisions()}, set(script.get_heads())


def current_heads(connection: Connection) -> tuple[str, ...]:
    """The database's revisions as Alembic reads them."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_heads()


def upgrade(connection: Connection) -> bool:
    """Run every migration the database lacks (Alembic). True, for `Store._locked`."""
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
    return True
