"""exports of a service's data in open formats, one running per service at a time

Revision ID: 0018_service_exports
Revises: 0017_server_jobs
Create Date: 2026-12-06 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from provisioner.db import UTCDateTime

revision = "0018_service_exports"
down_revision = "0017_server_jobs"
branch_labels = None
depends_on = None

ACTIVE = "state IN ('queued', 'running')"


def upgrade() -> None:
    op.create_table(
        "exports",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("tenant_id", sa.String(length=32), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("instance_id", sa.String(length=32), sa.ForeignKey("instances.id"), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("file", sa.String(length=100), nullable=True),
        sa.Column("backup_id", sa.String(length=32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=True),
    )
    for column in ("tenant_id", "instance_id", "job_id", "state", "expires_at"):
        op.create_index(f"ix_exports_{column}", "exports", [column])
    op.create_index(
        "uq_exports_one_running_per_instance",
        "exports",
        ["instance_id"],
        unique=True,
        postgresql_where=sa.text(ACTIVE),
        sqlite_where=sa.text(ACTIVE),
    )


def downgrade() -> None:
    op.drop_table("exports")
