"""Bodies of the jobs endpoints, and the job every accepted request answers with."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from provisioner.jobs.states import JobKind, JobStatus


class JobOut(BaseModel):
    id: str
    kind: JobKind
    status: JobStatus
    instance: str | None = Field(description="None for a server's own job (bootstrap): see target_server")
    space: str | None = Field(default=None, description="for space jobs: the space worked on")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    target_version: str | None = None
    target_server: str | None = None
    cancel_requested: bool = False


class JobAccepted(BaseModel):
    job: JobOut


class EventOut(BaseModel):
    seq: int
    time: datetime
    host: str | None
    task: str | None
    status: str
    line: str
    stdout: str


class EventPage(BaseModel):
    items: list[EventOut]
