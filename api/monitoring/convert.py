"""Rows to response bodies for the monitoring endpoints."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.monitoring import schemas
from provisioner.alerts.service import AlertStatus
from provisioner.models import Alert, Schedule, ServerMetric
from provisioner.monitoring.metrics import latest


def schedule(row: Schedule, timezone: str) -> schemas.ScheduleOut:
    return schemas.ScheduleOut(
        id=row.id,
        kind=row.kind,
        instance=row.instance_id,
        template=row.template,
        cron=row.cron,
        interval_seconds=row.interval_seconds,
        timezone=timezone,
        enabled=row.enabled,
        next_run_at=row.next_run_at,
        last_run_at=row.last_run_at,
        created_at=row.created_at,
    )


def alert(row: Alert) -> schemas.AlertOut:
    return schemas.AlertOut(
        id=row.id,
        kind=row.kind,
        subject=row.subject_id,
        tenant=row.tenant_id,
        summary=row.summary,
        status=AlertStatus(row.status),
        first_seen_at=row.created_at,
        last_seen_at=row.last_seen_at,
        resolved_at=row.resolved_at,
    )


def server_metrics(session: Session, server_id: str) -> schemas.ServerMetricsOut | None:
    """The latest collection from a server, for the server's own answer."""
    row: ServerMetric | None = latest(session, server_id)
    if row is None:
        return None
    return schemas.ServerMetricsOut.model_validate(row, from_attributes=True)
