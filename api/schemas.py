"""Request and response bodies of the HTTP contract (see the API design document)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.base_schemas import Input
from api.jobs.schemas import JobOut
from provisioner.catalog.base import NAME_PATTERN
from provisioner.health.probe import Health
from provisioner.spaces.states import SpaceState
from provisioner.tenants.rules import EMAIL, SLUG


class TenantIn(Input):
    slug: str = Field(pattern=SLUG, max_length=40)
    name: str = Field(min_length=1, max_length=200)
    contact_email: str = Field(pattern=EMAIL, max_length=254)
    language: Literal["de", "en"] | None = Field(
        default=None,
        description="what the association is written to in until its people choose (null: the lab's, German)",
    )


class Quota(BaseModel):
    instances: int
    memory_mb: int
    disk_gb: int


class TenantOut(BaseModel):
    id: str
    slug: str
    name: str
    contact_email: str
    language: str | None = None
    created_at: datetime
    quota: Quota | None = None
    # What the tenant's instances (not removed or rejected) reserve; on single reads only.
    usage: Quota | None = None


class QuotaIn(Input):
    """Leave a field out to keep it; null goes back to the lab's default."""

    instances: int | None = Field(default=None, ge=0, le=100_000)
    memory_mb: int | None = Field(default=None, ge=0)
    disk_gb: int | None = Field(default=None, ge=0)


class TenantPatch(Input):
    quota: QuotaIn | None = None


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
    # Shown for one space (GET /api/v1/spaces/{id}), not in lists.
    footprint: SpaceShareOut | None = Field(
        default=None, description="its share of the shared instance's use, split evenly between its spaces"
    )


class SpaceRemoval(BaseModel):
    space: SpaceOut
    job: JobOut | None = Field(description="the removal job; none for a request withdrawn before approval")


class SpaceAdminOut(BaseModel):
    url: str | None
    user: str
    password: str = Field(description="shown once; store it now")
