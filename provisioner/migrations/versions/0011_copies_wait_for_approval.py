"""a copy (restore into a new instance) asked for by an association waits for approval

Revision ID: 0011
Revises: 0010_api_tokens_expire
Create Date: 2026-12-05 19:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010_api_tokens_expire"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instances") as batch_op:
        batch_op.add_column(sa.Column("copy_of_backup_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("instances") as batch_op:
        batch_op.drop_column("copy_of_backup_id")
