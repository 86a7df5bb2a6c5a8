"""Space rows to response bodies."""

from __future__ import annotations

from api.spaces import schemas
from provisioner.catalog.loader import Catalog
from provisioner.models import Space, SpaceBackup


def space(row: Space, catalog: Catalog) -> schemas.SpaceOut:
    said = catalog.get(row.template).sharing
    quota = said.shared.quota if said is not None and said.shared is not None else None
    enforced = [name for name in ("members", "storage") if quota is not None and getattr(quota, name)]
    return schemas.SpaceOut(
        id=row.id,
        tenant=row.tenant_id,
        template=row.template,
        name=row.name,
        state=row.state,
        state_reason=row.state_reason,
        health=row.health,
        checked_at=row.health_checked_at,
        url=row.url,
        subdomain=row.subdomain,
        hostname=f"{row.subdomain}.{row.domain}",
        quota=schemas.SpaceQuotaOut(
            members=row.quota_members, storage_mb=row.quota_storage_mb, enforced=enforced
        ),
        created_at=row.created_at,
        updated_at=row.updated_at,
        separable_data=said is not None and said.shared is not None and said.shared.data.separable,
    )


def space_backup(row: SpaceBackup) -> schemas.SpaceBackupOut:
    return schemas.SpaceBackupOut(
        id=row.id,
        space=row.space_id,
        job=row.job_id,
        status=row.status,
        created_at=row.created_at,
        finished_at=row.finished_at,
        snapshot_id=row.snapshot_id,
        size_bytes=row.size_bytes,
        error=row.error,
    )
