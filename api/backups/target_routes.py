"""The lab's backup targets, where associations' repositories live (operators)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.backups import schemas as bs
from api.backups.convert import target_out
from api.deps import ActorDep, SessionDep, SettingsDep
from provisioner.backups import targets
from provisioner.backups.reach import check_target as check_reach

router = APIRouter(tags=["backups"])


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
