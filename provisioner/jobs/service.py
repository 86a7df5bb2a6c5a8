"""Jobs: created by the domain services, claimed and finished by the worker. The row is the truth."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.orm import Session, defaultload
from sqlalchemy.orm.attributes import set_committed_value

from provisioner.auth.actor import Actor
from provisioner.errors import Conflict, NotFound
from provisioner.jobs.queue import note_created
from provisioner.jobs.states import FINISHED, JobKind, JobStatus
from provisioner.models import INSTANCE_EXTRAS_ON_ACCESS, Instance, Job, JobEvent, Server, Space, Tenant
from provisioner.notices import events as notice_events
from provisioner.pagination import Page, paginate
from provisioner.timeutil import utcnow


@dataclass(frozen=True)
class EventRecord:
    seq: int
    created_at: datetime
    host: str | None
    task: str | None
    status: str
    line: str
    stdout: str


def create_job(
    session: Session,
    *,
    instance: Instance,
    kind: JobKind,
    target_version: str | None = None,
    requested_by: str | None = None,
    target_server_id: str | None = None,
    space_id: str | None = None,
) -> Job:
    job = Job(
        space_id=space_id,
        instance_id=instance.id,
        kind=kind.value,
        status=JobStatus.QUEUED.value,
        target_version=target_version,
        target_server_id=target_server_id,
        requested_by=requested_by,
    )
    return _queued(session, job)


def has_unfinished(
    session: Session, *, kind: JobKind, instance_id: str | None = None, space_id: str | None = None
) -> bool:
    """Whether a job of ``kind`` on the instance (or on the space) still waits or runs."""
    query = select(Job.id).where(
        Job.kind == kind.value, Job.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value])
    )
    if instance_id is not None:
        query = query.where(Job.instance_id == instance_id)
    if space_id is not None:
        query = query.where(Job.space_id == space_id)
    return session.scalar(query.limit(1)) is not None


def _queued(session: Session, job: Job) -> Job:
    session.add(job)
    session.flush()
    note_created(session, job.id)
    return job


def create_server_job(session: Session, *, server: Server, kind: JobKind, requested_by: str | None) -> Job:
    """A job on a server itself; one at a time per server (a second answers ``Conflict``)."""
    # Held until the commit, so two requests at once cannot both find the server free.
    session.execute(select(Server.id).where(Server.id == server.id).with_for_update())
    busy = session.scalar(
        select(Job.id).where(
            Job.target_server_id == server.id,
            Job.instance_id.is_(None),
            Job.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value]),
        )
    )
    if busy is not None:
        raise Conflict(f"the server {server.name} has a job under way already ({busy})")
    job = Job(
        instance_id=None,
        kind=kind.value,
        status=JobStatus.QUEUED.value,
        target_server_id=server.id,
        requested_by=requested_by,
    )
    return _queued(session, job)


def create_tenant_job(session: Session, *, tenant: Tenant, kind: JobKind, requested_by: str | None) -> Job:
    """A job of an association as a whole, on none of its instances (the export of all its services);
    the caller makes sure of how many may run at once."""
    job = Job(
        instance_id=None,
        tenant_id=tenant.id,
        kind=kind.value,
        status=JobStatus.QUEUED.value,
        requested_by=requested_by,
    )
    return _queued(session, job)


def _tenant_of(job: Job) -> str | None:
    """The association a job belongs to (a space's, not the lab's that owns the shared instance); None
    for a server's own job, which is the lab's."""
    if job.tenant_id is not None:
        return job.tenant_id
    if job.space is not None:
        return job.space.tenant_id
    return job.instance.tenant_id if job.instance is not None else None


def get_job(session: Session, *, actor: Actor, job_id: str) -> Job:
    # The job's instance comes with it (its association decides who may see it), not its secrets and ports.
    job = session.get(Job, job_id, options=[defaultload(Job.instance).options(*INSTANCE_EXTRAS_ON_ACCESS)])
    if job is None:
        raise NotFound("job not found")
    tenant_id = _tenant_of(job)
    if (tenant_id is None and not actor.is_operator) or (tenant_id and not actor.can_see_tenant(tenant_id)):
        raise NotFound("job not found")
    return job


def list_jobs(
    session: Session,
    *,
    actor: Actor,
    instance_id: str | None,
    status: JobStatus | None,
    limit: int,
    cursor: str | None,
) -> Page[Job]:
    query = select(Job).outerjoin(Job.instance).outerjoin(Space, Job.space_id == Space.id)
    if not actor.is_operator:
        query = query.where(
            or_(
                and_(Job.space_id.is_(None), Instance.tenant_id == actor.tenant_id),
                Space.tenant_id == actor.tenant_id,
                Job.tenant_id == actor.tenant_id,
            )
        )
    if instance_id is not None:
        query = query.where(Job.instance_id == instance_id)
    if status is not None:
        query = query.where(Job.status == status.value)
    return paginate(session, query, Job, limit=limit, cursor=cursor)


def list_events(
    session: Session, *, actor: Actor, job_id: str, after: int = 0, limit: int | None = None
) -> Sequence[JobEvent]:
    get_job(session, actor=actor, job_id=job_id)
    query = select(JobEvent).where(JobEvent.job_id == job_id, JobEvent.seq > after).order_by(JobEvent.seq)
    return session.scalars(query.limit(limit)).all()


class ClaimResult:
    CLAIMED = "claimed"
    NOT_QUEUED = "not_queued"  # already taken, finished or canceled: a duplicate delivery
    INSTANCE_BUSY = "instance_busy"  # another job holds the instance; try again later


def claim_job(session: Session, *, job_id: str, worker: str) -> str:
    """Move a job from queued to running and take its instance's lock, both or neither."""
    job = session.get(Job, job_id)
    if job is None or job.status != JobStatus.QUEUED:
        return ClaimResult.NOT_QUEUED
    if job.instance_id is None:
        # A server's own job: one per server is made sure of when it is made (create_server_job).
        return _claim_queued(session, job_id=job_id, worker=worker)
    locked = session.execute(
        update(Instance)
        .where(
            Instance.id == job.instance_id,
            or_(Instance.lock_job_id.is_(None), Instance.lock_job_id == job_id),
        )
        .values(lock_job_id=job_id)
    )
    if locked.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        # Its message is alive and comes back when the worker retries it: the redispatch loop must not
        # take the job for lost and send copies, which would all be retried for as long as it waits.
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.QUEUED.value)
            .values(dispatched_at=utcnow())
        )
        return ClaimResult.INSTANCE_BUSY
    return _claim_queued(session, job_id=job_id, worker=worker)


def _claim_queued(session: Session, *, job_id: str, worker: str) -> str:
    now = utcnow()
    claimed = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.QUEUED.value)
        .values(status=JobStatus.RUNNING.value, started_at=now, heartbeat_at=now, worker=worker)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        return ClaimResult.NOT_QUEUED
    return ClaimResult.CLAIMED


def add_events(session: Session, *, job_id: str, events: Sequence[EventRecord]) -> None:
    # One multi-row INSERT per batch, without building ORM objects: a chatty playbook sends thousands.
    session.execute(
        insert(JobEvent),
        [
            {
                "job_id": job_id,
                "seq": e.seq,
                "created_at": e.created_at,
                "host": e.host,
                "task": e.task,
                "status": e.status,
                "line": e.line,
                "stdout": e.stdout,
            }
            for e in events
        ],
    )
    session.execute(update(Job).where(Job.id == job_id).values(heartbeat_at=utcnow()))


class JobLost(Exception):
    """The job is no longer this worker's: the reaper gave it up (or it ended) while the worker went on."""


def owned_job(session: Session, *, job_id: str) -> Job:
    """The job, held for the rest of this transaction, while it still runs; ``JobLost`` otherwise.

    The first statement of a transaction that settles a job: the conditional update takes the job's
    row before the instance's (the reaper's order), so a worker and the reaper never wait on each
    other, and a worker whose job was reaped changes nothing. A job is claimed once and never runs
    again after it ended, so "still running" means "still the claiming worker's".
    """
    held = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.RUNNING.value)
        .values(heartbeat_at=utcnow())
    )
    if held.rowcount != 1:  # type: ignore[attr-defined]
        raise JobLost(job_id)
    job = session.get_one(Job, job_id)
    session.refresh(job)
    return job


def finish_job(session: Session, *, job: Job, status: JobStatus, error: str | None = None) -> None:
    """Record the outcome of a job and free its instance; ``JobLost`` when it has ended already (the
    reaper gave it up, say): an outcome is written once."""
    assert status in FINISHED  # noqa: S101 - a programming error, not input
    now = utcnow()
    ended = session.execute(
        update(Job)
        .where(Job.id == job.id, Job.status.not_in([s.value for s in FINISHED]))
        .values(status=status.value, finished_at=now, error=error)
        .execution_options(synchronize_session=False)
    )
    if ended.rowcount != 1:  # type: ignore[attr-defined]
        raise JobLost(job.id)
    for name, value in (("status", status.value), ("finished_at", now), ("error", error)):
        set_committed_value(job, name, value)
    session.execute(update(Instance).where(Instance.lock_job_id == job.id).values(lock_job_id=None))
    notice_events.job_finished(session, job=job)


def stale_queued_jobs(session: Session, *, older_than: datetime) -> Sequence[str]:
    """Queued jobs whose message may have been lost with the broker; sending them again is safe."""
    query = select(Job.id).where(
        Job.status == JobStatus.QUEUED.value,
        or_(Job.dispatched_at.is_(None), Job.dispatched_at < older_than),
    )
    return session.scalars(query).all()


def request_cancel(session: Session, *, actor: Actor, job_id: str) -> Job:
    """End a queued job at once; ask the worker of a running one to stop it."""
    job = get_job(session, actor=actor, job_id=job_id)
    tenant_id = _tenant_of(job)
    if tenant_id is None:
        actor.require_operator()
    else:
        actor.require_write(tenant_id, "job")
    if job.status in FINISHED:
        raise Conflict(f"the job has already ended ({job.status})")
    now = utcnow()
    ended = session.execute(
        update(Job)
        .where(Job.id == job.id, Job.status == JobStatus.QUEUED.value)
        .values(
            status=JobStatus.CANCELED.value,
            finished_at=now,
            cancel_requested_at=now,
            error="canceled before it started",
        )
    )
    if ended.rowcount != 1:  # type: ignore[attr-defined]
        # A worker has it (or took it just now): it polls for this and stops within seconds.
        job.cancel_requested_at = now
    session.flush()
    session.refresh(job)
    return job


def cancel_requested(session: Session, *, job_id: str) -> bool:
    requested = session.scalar(select(Job.cancel_requested_at).where(Job.id == job_id))
    return requested is not None


def beat_heart(session: Session, *, job_id: str) -> bool:
    """Show the job's worker is alive; False when the job runs no more (reaped, say)."""
    beat = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.RUNNING.value)
        .values(heartbeat_at=utcnow())
    )
    return beat.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def reap_lost_jobs(session: Session, *, silent_since: datetime) -> list[Job]:
    """Fail running jobs whose worker stopped showing signs of life, and free their instances."""
    lost = session.scalars(
        select(Job).where(
            Job.status == JobStatus.RUNNING.value,
            or_(Job.heartbeat_at.is_(None), Job.heartbeat_at < silent_since),
        )
    ).all()
    reaped = []
    for job in lost:
        # Only if it is still silent: a worker that came back in the meantime keeps its job.
        still_silent = or_(Job.heartbeat_at.is_(None), Job.heartbeat_at < silent_since)
        taken = session.execute(
            update(Job)
            .where(Job.id == job.id, Job.status == JobStatus.RUNNING.value, still_silent)
            .values(
                status=JobStatus.FAILED.value,
                finished_at=utcnow(),
                error=f"worker lost: {job.worker or 'the worker'} stopped reporting while the job ran",
            )
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            session.execute(update(Instance).where(Instance.lock_job_id == job.id).values(lock_job_id=None))
            session.refresh(job)
            notice_events.job_finished(session, job=job)
            reaped.append(job)
    return reaped


def recent_jobs(
    session: Session, *, instance_id: str | None, status: JobStatus | None, limit: int
) -> Sequence[Job]:
    """Newest first, for operators looking at what just happened."""
    query = select(Job).order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)
    if instance_id is not None:
        query = query.where(Job.instance_id == instance_id)
    if status is not None:
        query = query.where(Job.status == status.value)
    return session.scalars(query).unique().all()
