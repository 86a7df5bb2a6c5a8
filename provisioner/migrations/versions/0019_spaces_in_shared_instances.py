"""spaces: one association's part of a shared instance, the lab's choice of modes per template

Revision ID: 0019_spaces
Revises: 0018_service_exports
Create Date: 2026-12-06 01:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from provisioner.db import UTCDateTime

revision = "0019_spaces"
down_revision = "0018_service_exports"
branch_labels = None
depends_on = None

LIVE_SPACE = "state NOT IN ('removed', 'rejected')"


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=12), nullable=False, server_default="association")
        )
    with op.batch_alter_table("instances") as batch_op:
        batch_op.add_column(sa.Column("shared", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "spaces",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("template", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("health", sa.String(length=20), nullable=False),
        sa.Column("health_checked_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("subdomain", sa.String(length=63), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column("instance_id", sa.String(length=32), nullable=True),
        sa.Column("quota_members", sa.Integer(), nullable=True),
        sa.Column("quota_storage_mb", sa.Integer(), nullable=True),
        sa.Column("admin_user", sa.String(length=64), nullable=True),
        sa.Column("encrypted_admin_password", sa.Text(), nullable=True),
        sa.Column("credentials_revealed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_spaces_tenant_id_tenants")),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["instances.id"], name=op.f("fk_spaces_instance_id_instances")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spaces")),
    )
    op.create_index("ix_spaces_tenant_id", "spaces", ["tenant_id"])
    op.create_index("ix_spaces_state", "spaces", ["state"])
    op.create_index("ix_spaces_instance_id", "spaces", ["instance_id"])
    live = (
        ("uq_spaces_live_name", ["tenant_id", "name"]),
        ("uq_spaces_live_hostname", ["subdomain", "domain"]),
    )
    for name, columns in live:
        op.create_index(
            name,
            "spaces",
            columns,
            unique=True,
            postgresql_where=sa.text(LIVE_SPACE),
            sqlite_where=sa.text(LIVE_SPACE),
        )
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("space_id", sa.String(length=32), nullable=True))
        batch_op.create_foreign_key("fk_jobs_space_id_spaces", "spaces", ["space_id"], ["id"])
        batch_op.create_index("ix_jobs_space_id", ["space_id"])
    op.create_table(
        "template_modes",
        sa.Column("template", sa.String(length=63), nullable=False),
        sa.Column("modes", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("template", name=op.f("pk_template_modes")),
    )


def downgrade() -> None:
    op.drop_table("template_modes")
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_index("ix_jobs_space_id")
        batch_op.drop_constraint("fk_jobs_space_id_spaces", type_="foreignkey")
        batch_op.drop_column("space_id")
    op.drop_table("spaces")
    with op.batch_alter_table("instances") as batch_op:
        batch_op.drop_column("shared")
    with op.batch_alter_table("tenants") as batch_op:
        batch_op.drop_column("kind")
