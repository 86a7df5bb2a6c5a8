"""live instance names (per tenant) and hostnames unique in the database

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-05 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

LIVE_NAME = "state <> 'removed'"
LIVE_HOSTNAME = "state NOT IN ('removed', 'rejected')"


def upgrade() -> None:
    # Partial indexes: a removed instance keeps its name and hostname for the record.
    op.create_index(
        "uq_instances_live_name",
        "instances",
        ["tenant_id", "name"],
        unique=True,
        postgresql_where=sa.text(LIVE_NAME),
        sqlite_where=sa.text(LIVE_NAME),
    )
    op.create_index(
        "uq_instances_live_hostname",
        "instances",
        ["subdomain", "domain"],
        unique=True,
        postgresql_where=sa.text(LIVE_HOSTNAME),
        sqlite_where=sa.text(LIVE_HOSTNAME),
    )


def downgrade() -> None:
    op.drop_index("uq_instances_live_hostname", table_name="instances")
    op.drop_index("uq_instances_live_name", table_name="instances")
