from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, status
from fastapi.responses import PlainTextResponse, StreamingResponse

from api.base_schemas import Page
from api.deps import ActorDep, CursorQuery, LimitQuery, SessionDep
from api.jobs import convert, schemas
from api.jobs.event_streams import job_event_stream
from provisioner.instances import operations
from provisioner.jobs import service
from provisioner.jobs.states import JobStatus

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])


@router.get("")
def list_jobs(
    *,
    actor: ActorDep,
    session: SessionDep,
    instance: Annotated[str | None, Query(max_length=32)] = None,
    job_status: Annotated[JobStatus | None, Query(alias="status")] = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[schemas.JobOut]:
    """Jobs the caller may see, newest first (filter by instance or status)."""
    page = service.list_jobs(
        session, actor=actor, instance_id=instance, status=job_status, limit=limit, cursor=cursor
    )
    return Page(items=[convert.job(j) for j in page.items], next=page.next)


@router.get("/{job_id}")
def get_job(job_id: str, actor: ActorDep, session: SessionDep) -> schemas.JobOut:
    """One job with its outcome and every step it took."""
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
    last_event_id: Annotated[int | None, Header(ge=0)] = None,
) -> schemas.EventPage | StreamingResponse:
    """A job's steps as they happen (server-sent events); ends when the job ends."""
    if "text/event-stream" in request.headers.get("accept", ""):
        service.get_job(session, actor=actor, job_id=job_id)  # 404 before the stream starts
        session.close()  # the stream reads in short sessions of its own: this one keeps no connection
        return job_event_stream(request, actor=actor, job_id=job_id, after=last_event_id or 0)
    rows = service.list_events(session, actor=actor, job_id=job_id)
    return schemas.EventPage(items=[convert.event(r) for r in rows])
