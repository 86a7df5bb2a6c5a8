"""space_quota_changes: the limits an operator gave a running space, applied when its job succeeds

Revision ID: space_quota_changes
Revises: space_unhealthy_since
Create Date: 2026-12-06 08:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "space_quota_changes"
down_revision = "space_unhealthy_since"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "space_quota_changes",
        sa.Column("job_id", sa.String(32), sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("quota_members", sa.Integer(), nullable=True),
        sa.Column("quota_storage_mb", sa.Integer(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("space_quota_changes")
