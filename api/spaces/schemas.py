"""Bodies of the spaces endpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.backups.schemas import BackupState
from api.base_schemas import Input
from api.instances.schemas import InstanceOut
from api.jobs.schemas import JobOut
from provisioner.catalog.base import NAME_PATTERN
from provisioner.health.probe import Health
from provisioner.spaces.states import SpaceState


class SpaceIn(Input):
    template: str = Field(pattern=NAME_PATTERN)
    name: str = Field(pattern=NAME_PATTERN, description="short name, unique within the association")
    tenant: str | None = Field(default=None, max_length=32, description="operators only: for which tenant")
    subdomain: str | None = Field(
        default=None,
        max_length=63,
        description="the space answers at <subdomain>.<domain>; <name>-<association> when left out",
    )


class SpaceQuotaIn(Input):
    members: int | None = Field(default=None, ge=1, le=100000)
    storage_mb: int | None = Field(default=None, ge=1, le=10_000_000)


class SpacePatchIn(Input):
    quota: SpaceQuotaIn = Field(
        description="the limits to change; a limit left out keeps its value, null is the service's default"
    )


class SpaceChangeAccepted(BaseModel):
    space: SpaceOut = Field(description="the space as it is: its quota changes when the job succeeds")
    job: JobOut


class SpaceApproveIn(Input):
    quota: SpaceQuotaIn = Field(default_factory=SpaceQuotaIn)
    server: str | None = Field(
        default=None,
        max_length=32,
        description="the shared instance on this server (a new one there when it has none with room); "
        "leave out for automatic placement",
    )


class SpaceQuotaOut(BaseModel):
    members: int | None = Field(description="null: the service's own default")
    storage_mb: int | None = Field(description="null: the service's own default")
    enforced: list[str] = Field(description="which of the limits the service itself enforces")


class SpaceShareOut(BaseModel):
    cpu: float
    memory_mb: float
    disk_gb: float
    measured: bool = Field(description="false: the shared instance's reservation, not a measurement")
    spaces: int = Field(description="the shared instance's figures are split evenly between this many spaces")


class SpaceOut(BaseModel):
    id: str
    tenant: str
    template: str
    name: str
    state: SpaceState
    state_reason: str | None
    health: Health
    checked_at: datetime | None
    url: str | None
    subdomain: str
    hostname: str
    quota: SpaceQuotaOut
    created_at: datetime
    updated_at: datetime
    separable_data: bool = Field(
        description="true: the space can be backed up, restored and moved out on its own; false: only the "
        "whole shared instance is backed up, and its restore brings back every space"
    )
    # Shown for one space (GET /api/v1/spaces/{id}), not in lists.
    footprint: SpaceShareOut | None = Field(
        default=None, description="its share of the shared instance's use, split evenly between its spaces"
    )


class SpaceRemoval(BaseModel):
    space: SpaceOut
    job: JobOut | None = Field(description="the removal job; none for a request withdrawn before approval")


class SpaceBackupOut(BaseModel):
    id: str
    space: str
    job: str | None
    status: BackupState
    created_at: datetime
    finished_at: datetime | None
    snapshot_id: str | None
    size_bytes: int | None = Field(description="bytes of the space's data the snapshot holds")
    error: str | None


class SpaceBackupList(BaseModel):
    items: list[SpaceBackupOut]


class SpaceRestoreIn(Input):
    backup: str = Field(max_length=32, description="a succeeded backup from the space's list")


class SpaceMoveOutIn(Input):
    name: str | None = Field(
        default=None,
        pattern=NAME_PATTERN,
        description="the dedicated instance's name; the space's when left out",
    )
    subdomain: str | None = Field(
        default=None,
        max_length=63,
        description="the dedicated instance answers at <subdomain>.<domain>; <the space's subdomain>-site "
        "when left out (the space keeps its own address until it is removed, at the end of the move)",
    )


class SpaceMoveAccepted(BaseModel):
    instance: InstanceOut = Field(description="the association's new dedicated instance")
    job: JobOut


class SpaceAdminOut(BaseModel):
    url: str | None
    user: str
    password: str = Field(description="shown once; store it now")


class ModeratorLinkIn(Input):
    room: str = Field(
        default="*",
        pattern=r"^(\*|[a-z0-9][a-z0-9-]{0,62})$",
        description="the meeting room, or * for any room of the space",
    )
    days: int = Field(default=7, ge=1, le=366, description="how long the link opens meetings")
    name: str = Field(default="Moderation", min_length=1, max_length=64, description="shown in the meeting")


class ModeratorLinkOut(BaseModel):
    url: str = Field(description="shown once and kept nowhere: whoever has it moderates until it expires")
    expires_at: datetime
