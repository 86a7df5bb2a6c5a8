"""Backup, drill and target rows to response bodies."""

from __future__ import annotations

from api.backups import schemas as bs
from provisioner.backups import targets
from provisioner.backups.service import BackupStatus
from provisioner.models import Backup, BackupTarget, DrillResult


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
