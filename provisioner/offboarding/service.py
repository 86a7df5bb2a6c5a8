"""Asking for an association's offboarding, canceling it while it waits, resuming one that stopped,
and reading its deletion record.

An operator's offboarding starts at once; an association's admin confirms by typing the association's
slug and waits ``offboarding_wait_hours`` first, during which either side may cancel it. While one is
under way the association takes nothing new (``provisioner.tenants.leaving``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor
from provisioner.config import Settings
from provisioner.errors import Conflict, InvalidInput, NotFound
from provisioner.i18n import DEFAULT_LANGUAGE, known_language
from provisioner.jobs.queue import note_created
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.models import Instance, Job, Offboarding, Space, Tenant
from provisioner.notices.outbox import NoticeKind, queue_for_admins, queue_for_operators
from provisioner.pagination import Page, paginate
from provisioner.tenants.leaving import active_offboarding
from provisioner.tenants.quotas import hold_tenant
from provisioner.timeutil import utcnow

UNDER_WAY = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


def jobs_under_way(session: Session, *, tenant_id: str) -> Sequence[Job]:
    """Jobs of the association's services and spaces, and its own (an export of everything), that are
    queued or running."""
    query = (
        select(Job)
        .outerjoin(Instance, Job.instance_id == Instance.id)
        .outerjoin(Space, Job.space_id == Space.id)
        .where(
            Job.status.in_(UNDER_WAY),
            Job.offboarding_id.is_(None),
            or_(
                (Job.space_id.is_(None)) & (Instance.tenant_id == tenant_id),
                Space.tenant_id == tenant_id,
                Job.tenant_id == tenant_id,
            ),
        )
        .order_by(Job.created_at)
    )
    return session.scalars(query).unique().all()


def _refuse_while_busy(session: Session, tenant_id: str) -> None:
    busy = jobs_under_way(session, tenant_id=tenant_id)
    if busy:
        named = ", ".join(f"{job.kind} {job.id}" for job in busy[:5])
        raise Conflict(
            f"{len(busy)} job(s) of the association are under way ({named}); offboarding starts when "
            "none is: wait for them to end, or cancel them, and ask again"
        )


def request_offboarding(
    session: Session,
    settings: Settings,
    *,
    actor: Actor,
    tenant_id: str,
    confirm_slug: str | None,
    delete_backups_now: bool,
) -> Offboarding:
    """An operator's request starts at once; an admin's must name the slug, and waits."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None or tenant.kind != "association" or not actor.can_see_tenant(tenant_id):
        raise NotFound("tenant not found")
    actor.require_write(tenant.id, "tenant")
    if confirm_slug != tenant.slug:
        raise InvalidInput(
            "type the association's short name to confirm: everything it has here is deleted",
            errors=[{"field": "body.confirm", "message": f"must be {tenant.slug!r}"}],
        )
    hold_tenant(session, tenant_id=tenant.id)
    if (found := active_offboarding(session, tenant_id=tenant.id)) is not None:
        raise Conflict(f"the association is being offboarded already ({found.id}, {found.state})")
    now = utcnow()
    wait = timedelta(0) if actor.is_operator else timedelta(hours=settings.offboarding_wait_hours)
    if wait == timedelta(0):
        # One that waits starts once none is under way (``start_due``); one that starts now cannot.
        _refuse_while_busy(session, tenant.id)
    offboarding = Offboarding(
        tenant_id=tenant.id,
        tenant_slug=tenant.slug,
        tenant_name=tenant.name,
        language=known_language(tenant.language) or DEFAULT_LANGUAGE,
        state="waiting",
        requested_by=actor.principal,
        requested_at=now,
        not_before=now + wait,
        delete_backups_now=delete_backups_now,
        deleted={},
    )
    session.add(offboarding)
    try:
        # The partial unique index decides between two requests that both found none under way.
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict("the association is being offboarded already") from exc
    if wait == timedelta(0):
        start_job(session, offboarding, requested_by=actor.principal)
    else:
        # The waiting period is for others to notice: the association's admins and the lab hear of it.
        told = {"offboarding_id": offboarding.id}
        queue_for_admins(session, tenant_id=tenant.id, kind=NoticeKind.OFFBOARDING_ASKED, values=told)
        queue_for_operators(session, kind=NoticeKind.OFFBOARDING_ASKED, values=told)
    return offboarding


def start_job(session: Session, offboarding: Offboarding, *, requested_by: str) -> Job:
    """The job that carries the offboarding on from where it is (sent after the commit)."""
    job = Job(
        instance_id=None,
        kind=JobKind.OFFBOARD.value,
        status=JobStatus.QUEUED.value,
        offboarding_id=offboarding.id,
        requested_by=requested_by,
    )
    session.add(job)
    session.flush()
    note_created(session, job.id)
    return job


def _visible(session: Session, actor: Actor, tenant_id: str) -> Offboarding:
    """The tenant's latest offboarding, for operators and the association's own people."""
    if not actor.can_see_tenant(tenant_id):
        raise NotFound("no offboarding of this tenant")
    query = (
        select(Offboarding)
        .where(Offboarding.tenant_id == tenant_id)
        .order_by(Offboarding.requested_at.desc(), Offboarding.id.desc())
    )
    found = session.scalars(query.limit(1)).first()
    if found is None:
        raise NotFound("no offboarding of this tenant")
    return found


def get_offboarding(session: Session, *, actor: Actor, tenant_id: str) -> Offboarding:
    return _visible(session, actor, tenant_id)


def deletion_record(session: Session, *, actor: Actor, tenant_id: str) -> Offboarding:
    """The record of a completed offboarding: operators only (the association's people are gone)."""
    actor.require_operator()
    found = _visible(session, actor, tenant_id)
    if found.state != "completed":
        raise NotFound(f"the offboarding of this tenant is {found.state}; its record is written when done")
    return found


def cancel_offboarding(session: Session, *, actor: Actor, tenant_id: str) -> Offboarding:
    found = _visible(session, actor, tenant_id)
    actor.require_write(tenant_id, "tenant")
    if found.state != "waiting":
        raise Conflict(f"the offboarding is {found.state}; only one still waiting can be canceled")
    found.state = "canceled"
    found.canceled_by = actor.principal
    session.flush()
    return found


def resume_offboarding(session: Session, *, actor: Actor, tenant_id: str) -> Job:
    """An operator carries a stopped offboarding on from the step it stopped at."""
    actor.require_operator()
    found = _visible(session, actor, tenant_id)
    if found.state != "stopped":
        raise Conflict(f"the offboarding is {found.state}; only a stopped one can be resumed")
    _refuse_while_busy(session, tenant_id)
    found.state = "running"
    found.error = None
    return start_job(session, found, requested_by=actor.principal)


def delete_backups_now(session: Session, *, actor: Actor, tenant_id: str) -> tuple[Offboarding, Job | None]:
    """The association's backups go now instead of after the lab's retention ("immediately on
    request"): an operator asks at any point before the end, its admin while its accounts exist.
    Kept backups are deleted by a job started here; otherwise the job's backups step sees the flag
    when it gets there. The job made, if one was."""
    found = _visible(session, actor, tenant_id)
    actor.require_write(tenant_id, "tenant")
    session.refresh(found, with_for_update=True)
    if found.state in ("completed", "canceled"):
        raise Conflict(f"the offboarding is {found.state}; there are no kept backups to delete")
    found.delete_backups_now = True
    if found.state == "retaining":
        found.backups_due_at = utcnow()
        if not _has_job_under_way(session, found):
            return found, start_job(session, found, requested_by=actor.principal)
    session.flush()
    return found, None


def _has_job_under_way(session: Session, offboarding: Offboarding) -> bool:
    pending = select(Job.id).where(Job.offboarding_id == offboarding.id, Job.status.in_(UNDER_WAY))
    return session.scalar(pending.limit(1)) is not None


def deletion_records(session: Session, *, actor: Actor) -> Sequence[Offboarding]:
    """Every completed offboarding, the latest first (operators)."""
    actor.require_operator()
    query = select(Offboarding).where(Offboarding.state == "completed")
    return session.scalars(query.order_by(Offboarding.completed_at.desc(), Offboarding.id.desc())).all()


def deletion_records_page(
    session: Session, *, actor: Actor, limit: int, cursor: str | None
) -> Page[Offboarding]:
    """The completed offboardings a page at a time, in the order they were completed (operators)."""
    actor.require_operator()
    query = select(Offboarding).where(Offboarding.state == "completed")
    return paginate(session, query, Offboarding, limit=limit, cursor=cursor, by="completed_at")


def start_due(session: Session) -> list[str]:
    """Offboardings whose wait is over, and retained backups whose time is up, get their job (the
    worker's periodic task); the ids of the jobs made. Rows another sweep holds are skipped."""
    now = utcnow()
    due = session.scalars(
        select(Offboarding)
        .where(
            or_(
                (Offboarding.state == "waiting") & (Offboarding.not_before <= now),
                # Asked to delete them now while a job was on its way to keeping them: done here.
                (Offboarding.state == "retaining")
                & ((Offboarding.backups_due_at <= now) | Offboarding.delete_backups_now.is_(True)),
            )
        )
        .with_for_update(skip_locked=True)
    ).all()
    made = []
    for offboarding in due:
        if _has_job_under_way(session, offboarding):
            continue
        if offboarding.state == "waiting" and jobs_under_way(session, tenant_id=offboarding.tenant_id):
            continue  # waits for the association's jobs to end, then starts at the next sweep
        made.append(start_job(session, offboarding, requested_by="system").id)
    return made
