"""notices queued for a worker to send, and the language people and associations are written to in

Revision ID: 0012_notices
Revises: 0011
Create Date: 2026-12-05 22:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from provisioner.db import UTCDateTime

revision = "0012_notices"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outgoing_notices",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
    )
    op.create_index("ix_outgoing_notices_due_at", "outgoing_notices", ["due_at"])
    for table in ("users", "tenants"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("language", sa.String(length=5), nullable=True))


def downgrade() -> None:
    for table in ("users", "tenants"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("language")
    op.drop_index("ix_outgoing_notices_due_at", table_name="outgoing_notices")
    op.drop_table("outgoing_notices")
