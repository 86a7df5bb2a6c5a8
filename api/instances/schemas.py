"""Bodies of the instances endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from api.backups.schemas import BackupStatusOut
from api.base_schemas import Input
from api.jobs.schemas import JobOut
from provisioner.catalog.base import NAME_PATTERN
from provisioner.health.probe import Health
from provisioner.instances.states import InstanceState


class InstanceIn(Input):
    template: str = Field(pattern=NAME_PATTERN)
    name: str = Field(pattern=NAME_PATTERN, description="short name, unique within the association")
    parameters: dict[str, Any] = Field(default_factory=dict)
    tenant: str | None = Field(default=None, max_length=32, description="operators only: for which tenant")
    subdomain: str | None = Field(
        default=None,
        max_length=63,
        description="the instance answers at <subdomain>.<domain>; <name>-<association> when left out",
    )


class InstanceOut(BaseModel):
    id: str
    tenant: str
    template: str
    version: str
    name: str
    state: InstanceState
    state_reason: str | None
    health: Health
    checked_at: datetime | None
    url: str | None
    server: str | None
    parameters: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    subdomain: str | None = None
    hostname: str | None = None
    # Shown for one instance (GET /api/v1/instances/{id}), not in lists.
    backup_status: BackupStatusOut | None = None


class CredentialsOut(BaseModel):
    url: str | None
    credentials: dict[str, str] = Field(description="shown once; store them now")


class ApproveIn(Input):
    server: str | None = Field(default=None, max_length=32, description="leave out for automatic placement")


class RejectIn(Input):
    reason: str = Field(min_length=1, max_length=1000)


class UpdateIn(Input):
    version: str = Field(min_length=1, max_length=40)


class RestoreAccepted(BaseModel):
    instance: InstanceOut = Field(description="the instance the backup goes into (a new one for 'new')")
    job: JobOut | None = Field(
        description="the restore job; none while an association's copy waits for an operator's approval"
    )


class MoveIn(Input):
    server: str | None = Field(
        default=None, description="the target; the open server with most room when left out"
    )
