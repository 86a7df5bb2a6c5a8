"""monitoring: schedules, health events, server metrics, alerts

Revision ID: 0008
Revises: 0003
Create Date: 2026-11-22 04:05:20.689495
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import provisioner.db

revision = "0008"
# Chained after main's 0004 when merged with it.
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "alerts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("open_key", sa.String(length=110), nullable=True),
        sa.Column("created_at", provisioner.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", provisioner.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", provisioner.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_alerts_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("open_key", name=op.f("uq_alerts_open_key")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_subject_id"), ["subject_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "server_cas",
        sa.Column("server_id", sa.String(length=32), nullable=False),
        sa.Column("pem", sa.Text(), nullable=False),
        sa.Column("fetched_at", provisioner.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["server_id"], ["servers.id"], name=op.f("fk_server_cas_server_id_servers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("server_id", name=op.f("pk_server_cas")),
    )
    op.create_table(
        "server_metrics",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("server_id", sa.String(length=32), nullable=False),
        sa.Column("collected_at", provisioner.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reachable", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("disk_total_mb", sa.Integer(), nullable=True),
        sa.Column("disk_used_mb", sa.Integer(), nullable=True),
        sa.Column("memory_total_mb", sa.Integer(), nullable=True),
        sa.Column("memory_available_mb", sa.Integer(), nullable=True),
        sa.Column("instances", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["server_id"],
            ["servers.id"],
            name=op.f("fk_server_metrics_server_id_servers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_server_metrics")),
    )
    with op.batch_alter_table("server_metrics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_server_metrics_collected_at"), ["collected_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_server_metrics_server_id"), ["server_id"], unique=False)

    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("event", sa.String(length=10), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("created_at", provisioner.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", provisioner.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_alert_deliveries_alert_id_alerts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_deliveries")),
    )
    with op.batch_alter_table("alert_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_deliveries_alert_id"), ["alert_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_deliveries_recipient"), ["recipient"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_deliveries_sent_at"), ["sent_at"], unique=False)

    op.create_table(
        "health_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("instance_id", sa.String(length=32), nullable=False),
        sa.Column("previous", sa.String(length=20), nullable=False),
        sa.Column("current", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", provisioner.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_health_events_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_events")),
    )
    with op.batch_alter_table("health_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_health_events_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_health_events_instance_id"), ["instance_id"], unique=False)

    op.create_table(
        "schedules",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("instance_id", sa.String(length=32), nullable=True),
        sa.Column("template", sa.String(length=63), nullable=True),
        sa.Column("cron", sa.String(length=100), nullable=True),
        sa.Column("interval_seconds", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("next_run_at", provisioner.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", provisioner.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", provisioner.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_schedules_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
    )
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_schedules_instance_id"), ["instance_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_schedules_next_run_at"), ["next_run_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_schedules_template"), ["template"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedules_template"))
        batch_op.drop_index(batch_op.f("ix_schedules_next_run_at"))
        batch_op.drop_index(batch_op.f("ix_schedules_instance_id"))

    op.drop_table("schedules")
    with op.batch_alter_table("health_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_health_events_instance_id"))
        batch_op.drop_index(batch_op.f("ix_health_events_created_at"))

    op.drop_table("health_events")
    with op.batch_alter_table("alert_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_deliveries_sent_at"))
        batch_op.drop_index(batch_op.f("ix_alert_deliveries_recipient"))
        batch_op.drop_index(batch_op.f("ix_alert_deliveries_alert_id"))

    op.drop_table("alert_deliveries")
    with op.batch_alter_table("server_metrics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_server_metrics_server_id"))
        batch_op.drop_index(batch_op.f("ix_server_metrics_collected_at"))

    op.drop_table("server_metrics")
    op.drop_table("server_cas")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_alerts_subject_id"))
        batch_op.drop_index(batch_op.f("ix_alerts_status"))

    op.drop_table("alerts")
