"""Bodies of the monitoring endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from api.base_schemas import Input
from provisioner.alerts.service import AlertKind, AlertStatus
from provisioner.health.probe import Health
from provisioner.schedules.service import ScheduleKind


class ScheduleIn(Input):
    kind: ScheduleKind
    # Exactly one of instance and template: a template's schedule covers its instances without one.
    instance: str | None = Field(default=None, max_length=32)
    template: str | None = Field(default=None, max_length=63)
    # Exactly one of cron (five fields, read in the lab's time zone) and interval_seconds.
    cron: str | None = Field(default=None, max_length=100)
    interval_seconds: int | None = Field(default=None, ge=1, le=366 * 86400)
    enabled: bool = True


class SchedulePatch(Input):
    cron: str | None = Field(default=None, max_length=100)
    interval_seconds: int | None = Field(default=None, ge=1, le=366 * 86400)
    enabled: bool | None = None


class ScheduleOut(BaseModel):
    id: str
    kind: ScheduleKind
    instance: str | None
    template: str | None
    cron: str | None
    interval_seconds: int | None
    timezone: str
    enabled: bool
    next_run_at: datetime
    last_run_at: datetime | None
    created_at: datetime


class HealthEventOut(BaseModel):
    previous: Health
    current: Health
    detail: str | None
    at: datetime


class InstanceHealthOut(BaseModel):
    instance: str
    health: Health
    checked_at: datetime | None
    # Latest footprint from the server collection: cpu_percent, memory_mb, collected_at.
    footprint: dict[str, Any] | None
    changes: list[HealthEventOut]


class AlertOut(BaseModel):
    id: str
    kind: AlertKind
    subject: str
    tenant: str | None
    summary: str
    status: AlertStatus
    first_seen_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None


# Monitoring: the latest collection from a server (GET /api/v1/servers/{id}).
class ServerMetricsOut(BaseModel):
    collected_at: datetime
    reachable: bool
    error: str | None
    disk_total_mb: int | None
    disk_used_mb: int | None
    memory_total_mb: int | None
    memory_available_mb: int | None
    instances: dict[str, Any]
