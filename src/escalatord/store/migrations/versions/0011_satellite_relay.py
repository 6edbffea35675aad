"""Satellites in a cluster (issue 17): each satellite's last batch at any node, and results
received by a node for checks another node owns, until the owner applies them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "satellite_heard",
        sa.Column("satellite", sa.String(length=200), nullable=False),
        sa.Column("last_heard", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("satellite", name=op.f("pk_satellite_heard")),
    )
    op.create_table(
        "satellite_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("satellite", sa.String(length=200), nullable=False),
        sa.Column("check", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("measurements", sa.JSON(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_satellite_results")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_satellite_results_check", "satellite_results", ["check", "at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_satellite_results_check", table_name="satellite_results")
    op.drop_table("satellite_results")
    op.drop_table("satellite_heard")
