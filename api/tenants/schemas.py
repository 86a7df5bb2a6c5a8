"""Bodies of the tenants endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.base_schemas import Input
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
