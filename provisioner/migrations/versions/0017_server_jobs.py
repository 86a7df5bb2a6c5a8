"""jobs of a server itself (its bootstrap), which have no instance

Revision ID: 0017_server_jobs
Revises: 0016_repository_password_escrow
Create Date: 2026-12-06 02:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_server_jobs"
down_revision = "0016_repository_password_escrow"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.alter_column("instance_id", existing_type=sa.String(length=32), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM jobs WHERE instance_id IS NULL")
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.alter_column("instance_id", existing_type=sa.String(length=32), nullable=False)
