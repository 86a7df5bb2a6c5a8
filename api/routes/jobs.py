from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, status
from fastapi.responses import PlainTextResponse, StreamingResponse

from api import convert, schemas
from api.deps import ActorDep, CursorQuery, LimitQuery, SessionDep, SettingsDep
from provisioner.auth.actor import Actor
from provisioner.db import session_factory
from provisioner.instances import operations
from provisioner.jobs import service
from provisioner.jobs.states import FINISHED, JobStatus
from provisioner.models import JobEvent

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])

POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15


@router.get("")
def list_jobs(
    *,
    actor: ActorDep,
    session: SessionDep,
    instance: Annotated[str | None, Query(max_length=32)] = None,
    job_status: Annotated[JobStatus | None, Query(alias="status")] = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> schemas.Page[schemas.JobOut]:
    page = service.list_jobs(
        session, actor=actor, instance_id=instance, status=job_status, limit=limit, cursor=cursor
    )
    return schemas.Page(items=[convert.job(j) for j in page.items], next=page.next)


@router.get("/{job_id}")
def get_job(job_id: str, actor: ActorDep, session: SessionDep) -> schemas.JobOut:
    return convert.job(service.get_job(session, actor=actor, job_id=job_id))


@router.post("/{job_id}/cancel", status_code=status.HTTP_202_ACCEPTED)
def cancel_job(job_id: str, actor: ActorDep, session: SessionDep) -> schemas.JobOut:
    """A queued job ends at once; a running one is stopped by its worker within seconds."""
    job = operations.cancel_job(session, actor=actor, job_id=job_id)
    session.commit()
    return convert.job(job)


@router.get("/{job_id}/stdout", response_class=PlainTextResponse)
def job_stdout(job_id: str, actor: ActorDep, session: SessionDep) -> str:
    """The whole output of the run as Ansible printed it."""
    return "\n".join(
        row.stdout for row in service.list_events(session, actor=actor, job_id=job_id) if row.stdout
    )


def _as_json(row: JobEvent) -> str:
    return convert.event(row).model_dump_json()


def _stream(
    database_url: str, actor: Actor, job_id: str, after: int, payload: Callable[[JobEvent], str] = _as_json
) -> Iterator[str]:
    """The job's events from ``after`` on, each as ``payload`` writes it, until the job has ended."""
    last_sent = time.monotonic()
    while True:
        with session_factory(database_url)() as session:
            # The job's end first: the worker commits its last events before it, so they are all
            # visible to the read that follows, and none is skipped by ending the stream.
            finished = service.get_job(session, actor=actor, job_id=job_id).status in FINISHED
            events = service.list_events(session, actor=actor, job_id=job_id, after=after)
        for row in events:
            after = row.seq
            yield f"id: {row.seq}\nevent: job-event\ndata: {payload(row)}\n\n"
            last_sent = time.monotonic()
        if finished and not events:
            yield f"event: end\ndata: {json.dumps({'job': job_id})}\n\n"
            return
        if time.monotonic() - last_sent > KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            last_sent = time.monotonic()
        time.sleep(POLL_SECONDS)


@router.get(
    "/{job_id}/events",
    response_model=schemas.EventPage,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "JSON, or a live stream on request"}
    },
)
def job_events(
    job_id: str,
    *,
    request: Request,
    actor: ActorDep,
    session: SessionDep,
    settings: SettingsDep,
    last_event_id: Annotated[int | None, Header(ge=0)] = None,
) -> schemas.EventPage | StreamingResponse:
    if "text/event-stream" in request.headers.get("accept", ""):
        service.get_job(session, actor=actor, job_id=job_id)  # 404 before the stream starts
        return StreamingResponse(
            _stream(settings.resolved_database_url, actor, job_id, last_event_id or 0),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    rows = service.list_events(session, actor=actor, job_id=job_id)
    return schemas.EventPage(items=[convert.event(r) for r in rows])
