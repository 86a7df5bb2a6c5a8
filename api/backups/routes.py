"""Backups, restores and restore drills of an instance."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.backups import schemas as bs
from api.backups.convert import backup_out, drill_out, status_out
from api.deps import ActorDep, CatalogDep, DispatcherDep, SessionDep, SettingsDep
from api.instances import convert as instance_convert
from api.instances.schemas import RestoreAccepted
from api.jobs import convert as job_convert
from api.jobs.schemas import JobAccepted
from provisioner.backups import service
from provisioner.instances.service import get_instance
from provisioner.jobs.queue import commit_and_send

router = APIRouter(tags=["backups"])


@router.post("/api/v1/instances/{instance_id}/backups", status_code=status.HTTP_202_ACCEPTED)
def request_backup(
    instance_id: str, actor: ActorDep, session: SessionDep, catalog: CatalogDep, dispatcher: DispatcherDep
) -> JobAccepted:
    """Back up the instance now (a job); the data goes into the association's encrypted repository."""
    job = service.request_backup(session, actor=actor, catalog=catalog, instance_id=instance_id)
    commit_and_send(session, dispatcher)
    return JobAccepted(job=job_convert.job(job))


@router.get("/api/v1/instances/{instance_id}/backups")
def list_backups(instance_id: str, actor: ActorDep, session: SessionDep) -> bs.BackupList:
    """The instance's backups, newest first, with size and outcome."""
    rows = service.list_backups(session, actor=actor, instance_id=instance_id)
    return bs.BackupList(items=[backup_out(r) for r in rows])


@router.post("/api/v1/instances/{instance_id}/restore", status_code=status.HTTP_202_ACCEPTED)
def request_restore(
    instance_id: str,
    body: bs.RestoreIn,
    *,
    actor: ActorDep,
    session: SessionDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
) -> RestoreAccepted:
    """Restore a backup into this instance, or with ``into: "new"`` into a new instance: an operator's
    copy starts at once; an association's waits for approval (no job until then), as any request."""
    accepted = service.request_restore(
        session,
        actor=actor,
        catalog=catalog,
        instance_id=instance_id,
        backup_id=body.backup,
        into=body.into,
        name=body.name,
        subdomain=body.subdomain,
        settings=settings,
    )
    commit_and_send(session, dispatcher)
    return RestoreAccepted(
        instance=instance_convert.instance(accepted.instance),
        job=job_convert.job(accepted.job) if accepted.job is not None else None,
    )


@router.post("/api/v1/instances/{instance_id}/drills", status_code=status.HTTP_202_ACCEPTED)
def request_drill(
    instance_id: str, actor: ActorDep, session: SessionDep, dispatcher: DispatcherDep
) -> JobAccepted:
    """Restore the latest backup into a throwaway instance and check that it answers (a job)."""
    job = service.request_drill(session, actor=actor, instance_id=instance_id)
    commit_and_send(session, dispatcher)
    return JobAccepted(job=job_convert.job(job))


@router.get("/api/v1/instances/{instance_id}/backup-status")
def backup_status(
    instance_id: str, actor: ActorDep, session: SessionDep, settings: SettingsDep
) -> bs.BackupStatusOut:
    """The instance's latest good backup and drill, and whether either is overdue."""
    instance = get_instance(session, actor=actor, instance_id=instance_id)
    return status_out(service.backup_status(session, settings, instance_id=instance.id))


@router.get("/api/v1/drills")
def list_drills(
    actor: ActorDep, session: SessionDep, failed: bool | None = None, instance: str | None = None
) -> bs.DrillList:
    """Restore drills across the lab, newest first (filter by failed)."""
    rows = service.list_drills(session, actor=actor, instance_id=instance, failed=failed)
    return bs.DrillList(items=[drill_out(r) for r in rows])
