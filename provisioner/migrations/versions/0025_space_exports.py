"""exports of one space: the space's own data from its latest space backup, one being made per space

Revision ID: space_exports
Revises: space_quota_changes
Create Date: 2026-12-06 09:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "space_exports"
down_revision = "space_quota_changes"
branch_labels = None
depends_on = None

ACTIVE = "state IN ('queued', 'running')"
ASSOCIATION_BEFORE = "instance_id IS NULL AND state IN ('queued', 'running')"
ASSOCIATION_NOW = "instance_id IS NULL AND space_id IS NULL AND state IN ('queued', 'running')"
SPACE_ACTIVE = "space_id IS NOT NULL AND state IN ('queued', 'running')"
INSTANCE_INDEX = "uq_exports_one_running_per_instance"
ASSOCIATION_INDEX = "uq_exports_one_running_per_association"
SPACE_INDEX = "uq_exports_one_running_per_space"


def _one_running(name: str, column: str, where: str) -> None:
    op.create_index(
        name, "exports", [column], unique=True, postgresql_where=sa.text(where), sqlite_where=sa.text(where)
    )


def upgrade() -> None:
    # Dropped around the table's rebuild (SQLite), which would not carry their conditions over.
    op.drop_index(INSTANCE_INDEX, table_name="exports")
    op.drop_index(ASSOCIATION_INDEX, table_name="exports")
    with op.batch_alter_table("exports") as batch_op:
        batch_op.add_column(sa.Column("space_id", sa.String(length=32), nullable=True))
        batch_op.create_foreign_key("fk_exports_space_id_spaces", "spaces", ["space_id"], ["id"])
        batch_op.create_index("ix_exports_space_id", ["space_id"])
    _one_running(INSTANCE_INDEX, "instance_id", ACTIVE)
    _one_running(ASSOCIATION_INDEX, "tenant_id", ASSOCIATION_NOW)
    _one_running(SPACE_INDEX, "space_id", SPACE_ACTIVE)


def downgrade() -> None:
    op.drop_index(SPACE_INDEX, table_name="exports")
    op.drop_index(ASSOCIATION_INDEX, table_name="exports")
    op.drop_index(INSTANCE_INDEX, table_name="exports")
    op.execute("DELETE FROM exports WHERE space_id IS NOT NULL")
    with op.batch_alter_table("exports") as batch_op:
        batch_op.drop_index("ix_exports_space_id")
        batch_op.drop_constraint("fk_exports_space_id_spaces", type_="foreignkey")
        batch_op.drop_column("space_id")
    _one_running(INSTANCE_INDEX, "instance_id", ACTIVE)
    _one_running(ASSOCIATION_INDEX, "tenant_id", ASSOCIATION_BEFORE)
