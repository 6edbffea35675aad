"""The store's shortcut past Alembic (store/schema.py HEAD_REVISION) names the newest migration."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from escalatord.store.schema import HEAD_REVISION, alembic_config


def test_head_revision_is_the_newest_migration() -> None:
    """A new migration must move HEAD_REVISION, or databases would never be upgraded to it."""
    assert ScriptDirectory.from_config(alembic_config()).get_heads() == [HEAD_REVISION]
