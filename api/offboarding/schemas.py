"""Request and response bodies of the offboarding endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from api.base_schemas import Input
from api.jobs.schemas import JobOut

OffboardingState = Literal["waiting", "running", "stopped", "retaining", "completed", "canceled"]


class OffboardingIn(Input):
    confirm: str = Field(description="the association's slug, typed again: everything it has here is deleted")
    delete_backups_now: bool = Field(
        default=False, description="delete its backups with the rest instead of after the lab's retention"
    )


class OffboardingOut(BaseModel):
    id: str
    tenant: str
    slug: str
    state: OffboardingState = Field(
        description="waiting (may be canceled until not_before), running, stopped (a step failed: "
        "resumable), retaining (all gone but the backups), completed, canceled"
    )
    step: str | None = Field(description="the step it is at, or stopped at")
    error: str | None
    requested_by: str
    requested_at: datetime
    not_before: datetime = Field(description="nothing is deleted before then")
    delete_backups_now: bool
    backups_due_at: datetime | None = Field(description="when the kept backups are deleted")
    completed_at: datetime | None


class OffboardingAccepted(BaseModel):
    offboarding: OffboardingOut
    job: JobOut | None = Field(description="the job that runs it now; null while it waits")


class DeletionRecordOut(BaseModel):
    """What was deleted, when and by which jobs; no secret, no person's address."""

    id: str
    tenant: str
    slug: str
    name: str
    requested_by: str
    requested_at: datetime
    completed_at: datetime
    jobs: list[str] = Field(description="the offboarding's jobs; each service's removal names its own")
    services: list[dict[str, Any]]
    spaces: list[dict[str, Any]]
    repositories: list[dict[str, Any]] = Field(description="per target: how many backups were deleted")
    accounts: int
    invitations: int
    tokens: int
    exports: int
    final_export: list[dict[str, Any]] = Field(description="each archive's service, size and SHA-256")
