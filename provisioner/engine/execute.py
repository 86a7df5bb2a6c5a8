"""Runs one job: claim it (the instance's lock with it), keep its heartbeat, hand it to its kind's
handler, and end it as failed or canceled when the handler cannot."""

from __future__ import annotations

import logging

from provisioner.context import Context
from provisioner.db import transaction
from provisioner.engine.heartbeat import BEAT_EVERY_SECONDS, Heartbeat
from provisioner.engine.registry import HANDLERS
from provisioner.engine.sink import DatabaseSink
from provisioner.engine.steps import StepFailed, why
from provisioner.engine.unfinished import settle_unfinished
from provisioner.errors import DomainError, IllegalTransition
from provisioner.jobs.service import ClaimResult, JobLost, claim_job, finish_job, owned_job
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.models import Job

log = logging.getLogger(__name__)


class InstanceBusy(Exception):
    """Another job holds the instance; this one waits its turn in the queue."""


def execute_job(ctx: Context, job_id: str, *, worker: str, beat_every: float = BEAT_EVERY_SECONDS) -> None:
    url = ctx.database_url
    with transaction(url) as session:
        claim = claim_job(session, job_id=job_id, worker=worker)
    if claim == ClaimResult.INSTANCE_BUSY:
        raise InstanceBusy(job_id)
    if claim == ClaimResult.NOT_QUEUED:
        log.info("job %s is not queued any more; nothing to do", job_id)
        return
    try:
        with Heartbeat(url, job_id, every=beat_every) as heartbeat:
            sink = DatabaseSink(url, job_id, heartbeat=heartbeat, monotonic=ctx.clock.monotonic)
            run_claimed(ctx, job_id, sink)
    except JobLost:
        # The reaper gave the job up while it ran on; the record stays as the reaper wrote it, and
        # what happened since is in the job's events.
        log.warning("job %s was reaped while it ran; its outcome is not recorded", job_id)


def run_claimed(ctx: Context, job_id: str, sink: DatabaseSink) -> None:
    with transaction(ctx.database_url) as session:
        kind = JobKind(session.get_one(Job, job_id).kind)
    handler = HANDLERS[kind]
    try:
        handler.run(ctx, job_id, sink)
    except IllegalTransition as exc:
        # The instance changed while the job waited (a removal went first, say): nothing to do.
        with transaction(ctx.database_url) as session:
            job = owned_job(session, job_id=job_id)
            finish_job(session, job=job, status=JobStatus.CANCELED, error=f"nothing done: {exc.detail}")
    except JobLost:
        raise
    except Exception as exc:
        _broke_down(ctx, job_id, sink, exc=exc, kind=kind)


def _broke_down(ctx: Context, job_id: str, sink: DatabaseSink, *, exc: Exception, kind: JobKind) -> None:
    log.exception("job %s broke down", job_id)
    sink.flush()
    if isinstance(exc, (StepFailed, DomainError)):
        error = f"the job could not start: {why(exc)}"
    else:
        # The exception's text stays in the log: it may hold paths or values of the lab.
        error = f"the {kind.value} broke down inside the control plane: {type(exc).__name__}"
    with transaction(ctx.database_url) as session:
        job = owned_job(session, job_id=job_id)
        settle_unfinished(session, ctx.settings, job, reason=error)
        finish_job(session, job=job, status=JobStatus.FAILED, error=error)
