"""backups of one space of a shared instance, in its association's own repository, and the jobs that
put one back (into the space, or into the dedicated instance it moves to)

Revision ID: 0022_space_backups
Revises: 0021_association_exports
Create Date: 2026-12-06 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from provisioner.db import UTCDateTime

revision = "0022_space_backups"
down_revision = "0021_association_exports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "space_backups",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("space_id", sa.String(length=32), sa.ForeignKey("spaces.id"), nullable=False),
        sa.Column("repository_id", sa.Integer(), sa.ForeignKey("backup_repositories.id"), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("snapshot_id", sa.String(length=64), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    )
    for column in ("space_id", "job_id", "status"):
        op.create_index(f"ix_space_backups_{column}", "space_backups", [column])
    op.create_table(
        "space_restores",
        sa.Column(
            "job_id", sa.String(length=32), sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("backup_id", sa.String(length=32), sa.ForeignKey("space_backups.id"), nullable=True),
        sa.Column("instance_id", sa.String(length=32), sa.ForeignKey("instances.id"), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("space_restores")
    op.drop_table("space_backups")
