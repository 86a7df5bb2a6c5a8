"""backup targets served over restic's REST protocol, one credential per association's repository

Revision ID: 0013_rest_backup_targets
Revises: 0012_notices
Create Date: 2026-12-05 22:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_rest_backup_targets"
down_revision = "0012_notices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("backup_targets") as batch_op:
        batch_op.add_column(sa.Column("rest_url", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("rest_admin_url", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("htpasswd_file", sa.String(length=500), nullable=True))
    with op.batch_alter_table("backup_repositories") as batch_op:
        batch_op.add_column(sa.Column("encrypted_rest_password", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("backup_repositories") as batch_op:
        batch_op.drop_column("encrypted_rest_password")
    with op.batch_alter_table("backup_targets") as batch_op:
        batch_op.drop_column("htpasswd_file")
        batch_op.drop_column("rest_admin_url")
        batch_op.drop_column("rest_url")
