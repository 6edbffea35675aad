"""Planning ahead (issue 15): contact tests (`escalatord test-contacts`) and when each was
confirmed. A new table only: nothing stored before 0008 changes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contact_tests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person", sa.String(length=200), nullable=False),
        sa.Column("contact", sa.Integer(), nullable=False),
        sa.Column("notifier", sa.String(length=200), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("sent_by", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("outbox_key", sa.String(length=400), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("confirmed_from", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_tests")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_contact_tests_person", "contact_tests", ["person", "notifier"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_contact_tests_person", table_name="contact_tests")
    op.drop_table("contact_tests")
