"""Job rows to response bodies."""

from __future__ import annotations

from api.jobs import schemas
from provisioner.models import Job, JobEvent


def job(row: Job) -> schemas.JobOut:
    return schemas.JobOut(
        space=row.space_id,
        id=row.id,
        kind=row.kind,
        status=row.status,
        instance=row.instance_id,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        error=row.error,
        target_version=row.target_version,
        target_server=row.target_server_id,
        cancel_requested=row.cancel_requested_at is not None,
    )


def event(row: JobEvent) -> schemas.EventOut:
    return schemas.EventOut(
        seq=row.seq,
        time=row.created_at,
        host=row.host,
        task=row.task,
        status=row.status,
        line=row.line,
        stdout=row.stdout,
    )
