"""Spaces in a lab that exists only in a database: WordPress offered shared, spaces requested and
approved through the services, as the API does; and what restic's restore of a space's backup gives."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.catalog.exports import Part
from provisioner.catalog.loader import Catalog
from provisioner.catalog.modes import set_modes
from provisioner.config import Settings
from provisioner.exports.archive import RestoredPart
from provisioner.models import Job, Space, SpaceBackup, Tenant
from provisioner.spaces.service import approve_space, request_space
from tests.support import factories


def offer_shared(session: Session, catalog: Catalog = factories.CATALOG) -> None:
    set_modes(
        session, actor=factories.OPERATOR, template=catalog.get("wordpress"), modes=["dedicated", "shared"]
    )


def requested_space(session: Session, owner: Tenant, name: str = "web") -> Space:
    return request_space(
        session, actor=factories.admin_of(owner), catalog=factories.CATALOG, template="wordpress",
        name=name, tenant_id=None,
    )  # fmt: skip


def approved_space(
    session: Session,
    settings: Settings,
    owner: Tenant,
    name: str = "web",
    catalog: Catalog = factories.CATALOG,
) -> tuple[Space, Job]:
    """A space approved and placed, its making queued."""
    space = requested_space(session, owner, name)
    job = approve_space(
        session,
        actor=factories.OPERATOR,
        catalog=catalog,
        space_id=space.id,
        quota_storage_mb=200,
        settings=settings,
    )
    return space, job


def jobs_of(session: Session, space_id: str) -> list[Job]:
    return list(
        session.scalars(select(Job).where(Job.space_id == space_id).order_by(Job.created_at)).unique()
    )


def space_restored(
    settings: Settings, backup: SpaceBackup, parts: list[Part], *, into: Path
) -> list[RestoredPart]:
    """Stands in for restic's restore of a space's backup: the folder WordPress's space-data.php export
    writes (the site's tables, its members, its uploads), each file naming the space."""
    folder = into / "restored" / f"space-{backup.space_id}"
    (folder / "uploads" / "2026" / "11").mkdir(parents=True)
    (folder / "uploads" / "2026" / "11" / "flyer.bin").write_bytes(f"flyer of {backup.space_id}".encode())
    (folder / "tables.sql").write_text(f"-- news of {backup.space_id}\n")
    (folder / "network.json").write_text('{"blog_id": 2, "users": []}')
    where = {"tables": "tables.sql", "members": "network.json", "uploads": "uploads"}
    return [RestoredPart(part=part, source=folder / where[part.name]) for part in parts]


def inseparable_space(session: Session, *, tenant_id: str, instance_id: str | None) -> Space:
    """A running Nextcloud space: Nextcloud keeps every space's files and rows together, so one space's
    data cannot leave alone (its template says so in plain words). Its row alone, placed in
    ``instance_id``: nothing runs it."""
    space = Space(
        tenant_id=tenant_id,
        template="nextcloud",
        name="cloud",
        state="running",
        subdomain="cloud-a",
        domain="localhost",
        instance_id=instance_id,
    )
    session.add(space)
    session.flush()
    return space
