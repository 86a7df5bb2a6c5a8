"""each instance's footprint over time, for the charts on its page

Revision ID: 0015_instance_metrics_over_time
Revises: 0014_webhook_settings
Create Date: 2026-12-06 01:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import provisioner.db

revision = "0015_instance_metrics_over_time"
down_revision = "0014_webhook_settings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instance_metrics",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("instance_id", sa.String(length=32), nullable=False),
        sa.Column("server_id", sa.String(length=32), nullable=False),
        sa.Column("collected_at", provisioner.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cpu_percent", sa.Float(), nullable=False),
        sa.Column("memory_mb", sa.Float(), nullable=False),
        sa.Column("disk_mb", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_instance_metrics_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["server_id"],
            ["servers.id"],
            name=op.f("fk_instance_metrics_server_id_servers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instance_metrics")),
    )
    with op.batch_alter_table("instance_metrics", schema=None) as batch_op:
        batch_op.create_index(
            "ix_instance_metrics_instance_collected", ["instance_id", "collected_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_instance_metrics_collected_at"), ["collected_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_instance_metrics_server_id"), ["server_id"], unique=False)


def downgrade() -> None:
    op.drop_table("instance_metrics")
