"""What a deletion record holds, written step by step into ``Offboarding.deleted``: names, counts,
job ids and checksums, never a secret, a token or a person's address."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.models import Backup, BackupRepository, Export, Offboarding


def add(offboarding: Offboarding, key: str, value: Any) -> None:
    """Set one part of the record (a new dict, so the JSON column sees the change)."""
    offboarding.deleted = {**offboarding.deleted, key: value}


def append(offboarding: Offboarding, key: str, item: dict[str, Any]) -> None:
    add(offboarding, key, [*offboarding.deleted.get(key, []), item])


def final_exports(session: Session, *, tenant_id: str) -> list[dict[str, Any]]:
    """The association's ready exports (its final export): which service or space (neither for an export of
    everything, which lists each service with its checksum), size and SHA-256."""
    ready = session.scalars(
        select(Export)
        .where(Export.tenant_id == tenant_id, Export.state == "ready")
        .order_by(Export.created_at)
    ).unique()
    return [
        {
            "export": e.id,
            "service": e.instance.name if e.instance is not None else None,
            "finished_at": e.finished_at.isoformat() if e.finished_at else None,
            "size_bytes": e.size_bytes,
            "sha256": e.sha256,
        }
        | ({"space": e.space.name} if e.space is not None else {})
        | ({} if e.instance is not None or e.space is not None else {"services": e.services or []})
        for e in ready
    ]


def repository_entry(session: Session, repository: BackupRepository) -> dict[str, Any]:
    snapshots = session.scalars(
        select(Backup.id).where(Backup.repository_id == repository.id, Backup.status == "succeeded")
    ).all()
    return {
        "repository": repository.id,
        "target": repository.target.name,
        "kind": repository.target.kind,
        "backups": len(snapshots),
    }
