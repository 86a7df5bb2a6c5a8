"""the lab's webhook kept in the database, set in the portal

Revision ID: 0014_webhook_settings
Revises: 0013_rest_backup_targets
Create Date: 2026-12-06 01:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import provisioner.db

revision = "0014_webhook_settings"
down_revision = "0013_rest_backup_targets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url_encrypted", sa.Text(), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=True),
        sa.Column("updated_at", provisioner.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_settings")),
    )


def downgrade() -> None:
    op.drop_table("webhook_settings")
