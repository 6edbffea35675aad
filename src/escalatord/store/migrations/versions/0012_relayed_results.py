"""Traps in a cluster (issue 17): results a node received for a check another node owns,
until the owner applies them (monitor/relayed.py).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "relayed_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("check", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("measurements", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("recover_after", sa.Integer(), nullable=False),
        sa.Column("interval_s", sa.Float(), nullable=False),
        sa.Column("retry_interval_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relayed_results")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_relayed_results_check", "relayed_results", ["check", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_relayed_results_check", table_name="relayed_results")
    op.drop_table("relayed_results")
