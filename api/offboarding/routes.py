"""Offboarding an association (operators at once; its admins after the lab's waiting period), and
reading its deletion record."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.base_schemas import Page
from api.deps import ActorDep, CursorQuery, DispatcherDep, LimitQuery, SessionDep, SettingsDep
from api.jobs import convert as job_convert
from api.offboarding import schemas as os
from provisioner.jobs.queue import commit_and_send
from provisioner.models import Job, Offboarding
from provisioner.offboarding import service

router = APIRouter(prefix="/api/v1/tenants/{tenant_id}", tags=["offboarding"])
records_router = APIRouter(prefix="/api/v1/deletion-records", tags=["offboarding"])


def offboarding_out(row: Offboarding) -> os.OffboardingOut:
    return os.OffboardingOut(
        id=row.id,
        tenant=row.tenant_id,
        slug=row.tenant_slug,
        state=row.state,
        step=row.step,
        error=row.error,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        not_before=row.not_before,
        delete_backups_now=row.delete_backups_now,
        backups_due_at=row.backups_due_at,
        completed_at=row.completed_at,
    )


def _accepted(row: Offboarding, job: Job | None) -> os.OffboardingAccepted:
    return os.OffboardingAccepted(offboarding=offboarding_out(row), job=job_convert.job(job) if job else None)


@router.post("/offboarding", status_code=status.HTTP_202_ACCEPTED)
def offboard_tenant(
    tenant_id: str,
    *,
    body: os.OffboardingIn,
    actor: ActorDep,
    session: SessionDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
) -> os.OffboardingAccepted:
    """Offboard the association: every service and space removed, its exports, accounts, tokens and
    invitations deleted, its backups after the lab's retention (or now). An operator's starts at once
    (409 while a job of the association is under way); its admin's waits the lab's waiting period."""
    row = service.request_offboarding(
        session,
        settings,
        actor=actor,
        tenant_id=tenant_id,
        confirm_slug=body.confirm,
        delete_backups_now=body.delete_backups_now,
    )
    job = session.query(Job).filter(Job.offboarding_id == row.id).one_or_none()
    commit_and_send(session, dispatcher)
    return _accepted(row, job)


@router.get("/offboarding")
def get_offboarding(tenant_id: str, actor: ActorDep, session: SessionDep) -> os.OffboardingOut:
    """The association's latest offboarding: its state and the step it is at or stopped at."""
    return offboarding_out(service.get_offboarding(session, actor=actor, tenant_id=tenant_id))


@router.delete("/offboarding")
def cancel_offboarding(tenant_id: str, actor: ActorDep, session: SessionDep) -> os.OffboardingOut:
    """Cancel an offboarding still waiting; nothing was deleted."""
    row = service.cancel_offboarding(session, actor=actor, tenant_id=tenant_id)
    session.commit()
    return offboarding_out(row)


@router.post("/offboarding/resume", status_code=status.HTTP_202_ACCEPTED)
def resume_offboarding(
    tenant_id: str, actor: ActorDep, session: SessionDep, dispatcher: DispatcherDep
) -> os.OffboardingAccepted:
    """Carry a stopped offboarding on from the step it stopped at (operators)."""
    job = service.resume_offboarding(session, actor=actor, tenant_id=tenant_id)
    row = service.get_offboarding(session, actor=actor, tenant_id=tenant_id)
    commit_and_send(session, dispatcher)
    return _accepted(row, job)


@router.post("/offboarding/delete-backups-now", status_code=status.HTTP_202_ACCEPTED)
def delete_offboarded_backups_now(
    tenant_id: str, actor: ActorDep, session: SessionDep, dispatcher: DispatcherDep
) -> os.OffboardingAccepted:
    """Delete the association's backups now instead of after the lab's retention: at once when they
    are kept already (the job is returned), otherwise when the offboarding gets to them. Operators,
    and its admin while the offboarding waits."""
    row, job = service.delete_backups_now(session, actor=actor, tenant_id=tenant_id)
    commit_and_send(session, dispatcher)
    return _accepted(row, job)


@router.get("/deletion-record")
def get_deletion_record(tenant_id: str, actor: ActorDep, session: SessionDep) -> os.DeletionRecordOut:
    """What was deleted of an offboarded association, when, and by which jobs (operators)."""
    return deletion_record_out(service.deletion_record(session, actor=actor, tenant_id=tenant_id))


@records_router.get("")
def list_deletion_records(
    actor: ActorDep, session: SessionDep, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Page[os.DeletionRecordOut]:
    """The deletion records of every offboarded association, in the order they were completed
    (operators)."""
    page = service.deletion_records_page(session, actor=actor, limit=limit, cursor=cursor)
    return Page(items=[deletion_record_out(row) for row in page.items], next=page.next)


def deletion_record_out(row: Offboarding) -> os.DeletionRecordOut:
    deleted = row.deleted
    assert row.completed_at is not None  # noqa: S101 - a completed offboarding has its time
    return os.DeletionRecordOut(
        id=row.id,
        tenant=row.tenant_id,
        slug=row.tenant_slug,
        name=row.tenant_name,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        completed_at=row.completed_at,
        jobs=[j["job"] for j in deleted.get("jobs", [])],
        services=deleted.get("services", []),
        spaces=deleted.get("spaces", []),
        repositories=deleted.get("repositories", []),
        accounts=deleted.get("accounts", 0),
        invitations=deleted.get("invitations", 0),
        tokens=deleted.get("tokens", 0),
        exports=deleted.get("exports", 0),
        final_export=deleted.get("final_export", []),
    )
