"""Quiet times (issue 14): run-time silences, each check's recent results for flap detection,
and what kind of incident a row is and which group it is paged with.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "silences",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("match", sa.JSON(), nullable=False),
        sa.Column("match_re", sa.JSON(), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("removed_at", sa.DateTime(), nullable=True),
        sa.Column("removed_by", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_silences")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_silences_ends_at", "silences", ["ends_at"], unique=False)
    # NULL on rows written before 0006: no flap history yet, not flapping.
    with op.batch_alter_table("check_states") as batch:
        batch.add_column(sa.Column("flap_history", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("flapping", sa.Integer(), nullable=True))
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("group_key", sa.String(length=400), nullable=True))
        batch.add_column(sa.Column("group_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("group_id")
        batch.drop_column("group_key")
        batch.drop_column("kind")
    with op.batch_alter_table("check_states") as batch:
        batch.drop_column("flapping")
        batch.drop_column("flap_history")
    op.drop_index("ix_silences_ends_at", table_name="silences")
    op.drop_table("silences")
