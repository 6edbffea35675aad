"""Graceful overload in a cluster (issue 17): how far behind each node runs, and why.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL on rows written before 0010: nothing known of the node's load.
    with op.batch_alter_table("nodes") as batch:
        batch.add_column(sa.Column("behind_s", sa.Float(), nullable=True))
        batch.add_column(sa.Column("overload", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("nodes") as batch:
        batch.drop_column("overload")
        batch.drop_column("behind_s")
