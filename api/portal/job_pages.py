"""A job's progress as readable steps: live through Server-Sent Events, or by reloading without JavaScript."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from api.deps import SessionDep, SettingsDep
from api.jobs.event_streams import job_event_stream
from api.portal.auth import SignedForm, ViewerDep
from api.portal.rendering import render, texts_for
from api.portal.steps import readable, stream_payload
from provisioner.instances import operations
from provisioner.jobs.service import get_job, list_events
from provisioner.jobs.states import FINISHED, JobStatus
from provisioner.models import Server
from provisioner.notices.outbox import operators_hear_of_failures

router = APIRouter(include_in_schema=False)


@router.get("/jobs/{job_id}")
def job_page(
    request: Request, job_id: str, viewer: ViewerDep, session: SessionDep, settings: SettingsDep
) -> Response:
    job = get_job(session, actor=viewer.actor, job_id=job_id)
    events = list_events(session, actor=viewer.actor, job_id=job_id)
    texts = texts_for(request)
    steps = [step for step in (readable(event, texts) for event in events) if step]
    context = {
        "job": job,
        "steps": steps,
        "finished": JobStatus(job.status) in FINISHED,
        "last_seq": events[-1].seq if events else 0,
        "log": "\n".join(e.stdout for e in events if e.stdout) if viewer.is_operator else None,
        # Only say the lab was told when a notice can reach someone there.
        "lab_told": operators_hear_of_failures(session, settings),
        "server_name": server.name if (server := session.get(Server, job.target_server_id or "")) else "",
    }
    return render(request, "job.html", context)


@router.get("/jobs/{job_id}/stream")
def job_stream(
    request: Request,
    job_id: str,
    *,
    viewer: ViewerDep,
    session: SessionDep,
    after: int = 0,
    last_event_id: Annotated[int | None, Header(ge=0)] = None,
) -> StreamingResponse:
    """The steps in the viewer's language; a browser that reconnects goes on after the last one it got."""
    get_job(session, actor=viewer.actor, job_id=job_id)  # 404 before the stream starts
    session.close()  # the stream reads in short sessions of its own: this one keeps no connection
    start = max(after, last_event_id or 0, 0)
    return job_event_stream(
        request, actor=viewer.actor, job_id=job_id, after=start, payload=stream_payload(texts_for(request))
    )


@router.post("/jobs/{job_id}/cancel")
def cancel(job_id: str, viewer: ViewerDep, form: SignedForm, session: SessionDep) -> Response:
    operations.cancel_job(session, actor=viewer.actor, job_id=job_id)
    session.commit()
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)
