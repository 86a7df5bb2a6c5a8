"""spaces: since when a space has been unhealthy, so the health sweep alerts only after the grace period

Revision ID: space_unhealthy_since
Revises: 0022_space_backups
Create Date: 2026-12-06 05:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from provisioner.db import UTCDateTime

revision = "space_unhealthy_since"
down_revision = "0022_space_backups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("spaces") as batch_op:
        batch_op.add_column(sa.Column("unhealthy_since", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("spaces") as batch_op:
        batch_op.drop_column("unhealthy_since")
