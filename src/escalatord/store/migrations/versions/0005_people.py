"""People (issue 13): who an outbox row pages and at which address, run-time rota overrides,
how long a snooze holds an incident acknowledged, and when its ladder (re)started.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL on rows written before 0005, and on pages to a channel rather than a person.
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("person", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("address", sa.Text(), nullable=True))
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("snoozed_until", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("ladder_at", sa.DateTime(), nullable=True))
    op.create_table(
        "schedule_overrides",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("schedule", sa.String(length=200), nullable=False),
        sa.Column("person", sa.String(length=200), nullable=False),
        sa.Column("from_at", sa.DateTime(), nullable=False),
        sa.Column("until_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_overrides")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_schedule_overrides_schedule",
        "schedule_overrides",
        ["schedule", "until_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_schedule_overrides_schedule", table_name="schedule_overrides")
    op.drop_table("schedule_overrides")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("ladder_at")
        batch.drop_column("snoozed_until")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("address")
        batch.drop_column("person")
