"""each repository remembers for which recovery recipients its password's copy lies on the target

Revision ID: 0016_repository_password_escrow
Revises: 0015_instance_metrics_over_time
Create Date: 2026-12-05 22:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_repository_password_escrow"
down_revision = "0015_instance_metrics_over_time"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("backup_repositories") as batch_op:
        batch_op.add_column(sa.Column("escrowed_for", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("backup_repositories") as batch_op:
        batch_op.drop_column("escrowed_for")
