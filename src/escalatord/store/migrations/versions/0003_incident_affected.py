"""Root-cause incidents: the dependants a down check makes unreachable.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A list of {"check": name, "site": site-or-""}; NULL for incidents opened before 0003.
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("affected", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("affected")
