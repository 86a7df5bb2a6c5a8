"""Backups, restores and restore drills of an instance; backup targets for operators."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api import backup_schemas as bs
from api import convert, schemas
from api.deps import ActorDep, CatalogDep, DispatcherDep, SessionDep, SettingsDep
from api.jobs import convert as job_convert
from api.jobs.schemas import JobAccepted
from provisioner.backups import service, targets
from provisioner.backups.reach import check_target as check_reach
from provisioner.backups.service import BackupStatus
from provisioner.instances.service import get_instance
from provisioner.jobs.queue import commit_and_send
from provisioner.models import Backup, BackupTarget, DrillResult

router = APIRouter(tags=["backups"])


def backup_out(row: Backup) -> bs.BackupOut:
    return bs.BackupOut(
        id=row.id,
        instance=row.instance_id,
        job=row.job_id,
        status=row.status,
        version=row.version,
        created_at=row.created_at,
        finished_at=row.finished_at,
        duration_seconds=row.duration_seconds,
        snapshot_id=row.snapshot_id,
        size_bytes=row.size_bytes,
        added_bytes=row.added_bytes,
        error=row.error,
    )


def drill_out(row: DrillResult) -> bs.DrillOut:
    return bs.DrillOut(
        id=row.id,
        instance=row.instance_id,
        job=row.job_id,
        backup=row.backup_id,
        status=row.status,
        detail=row.detail,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


def status_out(found: BackupStatus) -> bs.BackupStatusOut:
    return bs.BackupStatusOut(
        last_backup_at=found.last_backup_at,
        last_backup_status=found.last_backup_status,
        last_drill_at=found.last_drill_at,
        last_drill_status=found.last_drill_status,
        flag=found.flag,
    )


def target_out(row: BackupTarget) -> bs.BackupTargetOut:
    return bs.BackupTargetOut(
        id=row.id,
        name=row.name,
        kind=row.kind,
        path=row.path,
        address=row.address,
        port=row.port,
        user=row.user,
        s3_endpoint=row.s3_endpoint,
        rest_url=row.rest_url,
        public_key=row.public_key,
        isolation=targets.ISOLATION[row.kind],
        default=row.is_default,
    )


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
) -> schemas.RestoreAccepted:
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
    return schemas.RestoreAccepted(
        instance=convert.instance(accepted.instance),
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


@router.post("/api/v1/backup-targets", status_code=status.HTTP_201_CREATED)
def add_target(
    body: bs.BackupTargetIn, actor: ActorDep, session: SessionDep, settings: SettingsDep
) -> bs.BackupTargetOut:
    """Add a backup target (SFTP or S3) where associations' repositories live (operators)."""
    row = targets.add_target(session, actor=actor, settings=settings, **body.model_dump())
    session.commit()
    return target_out(row)


@router.post("/api/v1/backup-targets/{target_id}/check")
def check_target(
    target_id: str, actor: ActorDep, session: SessionDep, settings: SettingsDep
) -> bs.TargetReachOut:
    """Test the connection: whether the control plane reaches the target with the credentials it keeps
    (SFTP: key, pinned host key, a folder made and removed; REST: both listeners; S3: a signed listing)."""
    target = targets.get_target(session, actor=actor, target_id=target_id)
    found = check_reach(settings, target)
    return bs.TargetReachOut(reached=found.reached, finding=found.finding, detail=found.detail)


@router.get("/api/v1/backup-targets")
def list_targets(actor: ActorDep, session: SessionDep) -> list[bs.BackupTargetOut]:
    """The lab's backup targets (operators)."""
    return [target_out(r) for r in targets.list_targets(session, actor=actor)]


@router.delete(
    "/api/v1/backup-targets/{target_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={409: {"description": "associations' repositories still live on the target"}},
)
def remove_target(target_id: str, actor: ActorDep, session: SessionDep) -> Response:
    """Remove a backup target that holds no association's repository, with the credentials the lab keeps
    for it; refused with 409 while one does (operators)."""
    targets.remove_target(session, actor=actor, target_id=target_id)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
