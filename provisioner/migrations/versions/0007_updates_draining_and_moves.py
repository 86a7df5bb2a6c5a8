"""updates: draining servers and moves between servers

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 04:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("servers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("draining", sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("target_server_id", sa.String(length=32), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_jobs_target_server_id_servers"), "servers", ["target_server_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_jobs_target_server_id_servers"), type_="foreignkey")
        batch_op.drop_column("target_server_id")

    with op.batch_alter_table("servers", schema=None) as batch_op:
        batch_op.drop_column("draining")
