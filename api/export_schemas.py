"""Response bodies of the export endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.jobs.schemas import JobOut


class ExportOut(BaseModel):
    id: str
    instance: str
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


class ExportAccepted(BaseModel):
    export: ExportOut
    job: JobOut


class ExportList(BaseModel):
    items: list[ExportOut]
