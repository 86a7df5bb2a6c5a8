"""Response bodies of the export endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.jobs.schemas import JobOut


class ExportedService(BaseModel):
    """A service (or space) of an association's export: in the archive, or left out with the reason."""

    name: str
    kind: Literal["service", "space"] = Field(
        default="service", description="one of its services, or one of its spaces in a shared service"
    )
    template: str
    version: str
    state: Literal["exported", "skipped"]
    instance: str | None = Field(default=None, description="the service's instance, when exported")
    space: str | None = Field(default=None, description="the space, when a space was exported")
    files: int | None = Field(default=None, description="how many files of it the archive holds")
    sha256: str | None = Field(
        default=None,
        description="SHA-256 of its lines in the archive's SHA256SUMS: one value for all its files",
    )
    reason: str | None = Field(default=None, description="why it was left out (not running, say)")


class ExportOut(BaseModel):
    id: str
    scope: Literal["service", "space", "association"] = Field(
        description="one service's export (see instance), one space's (see space) or the whole "
        "association's (both null)"
    )
    instance: str | None = Field(description="the service exported; null for a space's or the association's")
    space: str | None = Field(default=None, description="the space exported; null unless scope is space")
    tenant: str
    job: str | None
    state: Literal["queued", "running", "ready", "failed", "replaced", "expired"] = Field(
        description="queued, running, ready, failed, replaced (by a newer one) or expired"
    )
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None = Field(description="when the archive is deleted; null until it is ready")
    size_bytes: int | None = Field(description="bytes of the archive (tar.gz) as downloaded")
    sha256: str | None = Field(description="SHA-256 of the archive as downloaded")
    download: str | None = Field(description="where its association's admins download it, while it is ready")
    error: str | None
    services: list[ExportedService] | None = Field(
        default=None,
        description="of the whole association's export once ready: each service, exported or skipped",
    )


class ExportAccepted(BaseModel):
    export: ExportOut
    job: JobOut


class ExportList(BaseModel):
    items: list[ExportOut]
