"""API tokens expire, name who made them, and stored idempotent answers are forgotten

Revision ID: 0010_api_tokens_expire
Revises: 0009
Create Date: 2026-12-05 19:30:00
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0010_api_tokens_expire"
down_revision = "0009"
branch_labels = None
depends_on = None

# Tokens made before expiry existed get the default lifetime from now, so no script stops at once.
EXISTING_LIFETIME = timedelta(days=90)


def upgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("created_by", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_api_tokens_created_by"), ["created_by"], unique=False)
    tokens = sa.table("api_tokens", sa.column("expires_at", sa.DateTime(timezone=True)))
    op.execute(tokens.update().values(expires_at=datetime.now(UTC) + EXISTING_LIFETIME))
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.alter_column("expires_at", existing_type=sa.DateTime(timezone=True), nullable=False)
    # Answers kept for retries held minted tokens in clear; they are only a retry cache.
    op.execute(sa.table("idempotency_keys").delete())


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_created_by"))
        batch_op.drop_column("created_by")
        batch_op.drop_column("expires_at")
