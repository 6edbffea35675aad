"""Heartbeat signals, used ack-link tokens and the generated ack-link key.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "heartbeats",
        sa.Column("check", sa.String(200), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=True),
        sa.Column("last_ping_at", sa.DateTime(), nullable=True),
        sa.Column("last_start_at", sa.DateTime(), nullable=True),
        sa.Column("last_fail_at", sa.DateTime(), nullable=True),
        sa.Column("last_exit_code", sa.Integer(), nullable=True),
        sa.Column("last_body", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("check", name=op.f("pk_heartbeats")),
    )
    op.create_table(
        "ack_tokens",
        sa.Column("token_id", sa.String(64), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(200), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=False),
        sa.Column("used_by", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_ack_tokens_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_ack_tokens")),
    )
    op.create_table(
        "ack_keys",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_ack_keys")),
    )


def downgrade() -> None:
    op.drop_table("ack_keys")
    op.drop_table("ack_tokens")
    op.drop_table("heartbeats")
