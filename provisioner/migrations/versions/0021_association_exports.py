"""exports of a whole association: one archive of all its services, one being made per association

Revision ID: 0021_association_exports
Revises: 0020_offboardings
Create Date: 2026-12-06 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_association_exports"
down_revision = "0020_offboardings"
branch_labels = None
depends_on = None

ACTIVE = "state IN ('queued', 'running')"
ASSOCIATION_ACTIVE = "instance_id IS NULL AND state IN ('queued', 'running')"
INSTANCE_INDEX = "uq_exports_one_running_per_instance"


def _one_running(name: str, column: str, where: str) -> None:
    op.create_index(
        name, "exports", [column], unique=True, postgresql_where=sa.text(where), sqlite_where=sa.text(where)
    )


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("tenant_id", sa.String(length=32), nullable=True))
        batch_op.create_foreign_key("fk_jobs_tenant_id_tenants", "tenants", ["tenant_id"], ["id"])
        batch_op.create_index("ix_jobs_tenant_id", ["tenant_id"])
    # Dropped around the table's rebuild (SQLite), which would not carry its condition over.
    op.drop_index(INSTANCE_INDEX, table_name="exports")
    with op.batch_alter_table("exports") as batch_op:
        batch_op.alter_column("instance_id", existing_type=sa.String(length=32), nullable=True)
        batch_op.add_column(sa.Column("services", sa.JSON(), nullable=True))
    _one_running(INSTANCE_INDEX, "instance_id", ACTIVE)
    _one_running("uq_exports_one_running_per_association", "tenant_id", ASSOCIATION_ACTIVE)


def downgrade() -> None:
    op.drop_index("uq_exports_one_running_per_association", table_name="exports")
    op.execute("DELETE FROM exports WHERE instance_id IS NULL")
    op.drop_index(INSTANCE_INDEX, table_name="exports")
    with op.batch_alter_table("exports") as batch_op:
        batch_op.drop_column("services")
        batch_op.alter_column("instance_id", existing_type=sa.String(length=32), nullable=False)
    _one_running(INSTANCE_INDEX, "instance_id", ACTIVE)
    op.execute("DELETE FROM job_events WHERE job_id IN (SELECT id FROM jobs WHERE tenant_id IS NOT NULL)")
    op.execute("DELETE FROM jobs WHERE tenant_id IS NOT NULL")
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_index("ix_jobs_tenant_id")
        batch_op.drop_constraint("fk_jobs_tenant_id_tenants", type_="foreignkey")
        batch_op.drop_column("tenant_id")
