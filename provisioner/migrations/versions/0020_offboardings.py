"""offboardings: an association leaves, and its deletion record stays

Revision ID: 0020_offboardings
Revises: 0019_spaces
Create Date: 2026-12-06 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from provisioner.db import UTCDateTime

revision = "0020_offboardings"
down_revision = "0019_spaces"
branch_labels = None
depends_on = None

ACTIVE = "state IN ('waiting', 'running', 'stopped', 'retaining')"


def upgrade() -> None:
    op.create_table(
        "offboardings",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("tenant_slug", sa.String(length=40), nullable=False),
        sa.Column("tenant_name", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("step", sa.String(length=40), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("not_before", UTCDateTime(timezone=True), nullable=False),
        sa.Column("delete_backups_now", sa.Boolean(), nullable=False),
        sa.Column("backups_due_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("canceled_by", sa.String(length=64), nullable=True),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("deleted", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offboardings")),
    )
    op.create_index("ix_offboardings_tenant_id", "offboardings", ["tenant_id"])
    op.create_index("ix_offboardings_state", "offboardings", ["state"])
    op.create_index("ix_offboardings_not_before", "offboardings", ["not_before"])
    op.create_index("ix_offboardings_backups_due_at", "offboardings", ["backups_due_at"])
    op.create_index(
        "uq_offboardings_one_active_per_tenant",
        "offboardings",
        ["tenant_id"],
        unique=True,
        postgresql_where=sa.text(ACTIVE),
        sqlite_where=sa.text(ACTIVE),
    )
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("offboarding_id", sa.String(length=32), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_jobs_offboarding_id_offboardings"), "offboardings", ["offboarding_id"], ["id"]
        )
        batch_op.create_index("ix_jobs_offboarding_id", ["offboarding_id"])


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_index("ix_jobs_offboarding_id")
        batch_op.drop_constraint(op.f("fk_jobs_offboarding_id_offboardings"), type_="foreignkey")
        batch_op.drop_column("offboarding_id")
    op.drop_table("offboardings")
