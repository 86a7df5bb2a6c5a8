"""Spaces in a lab that exists only in a database: WordPress offered shared, spaces requested and
approved through the services, as the API does."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.catalog.loader import Catalog
from provisioner.catalog.modes import set_modes
from provisioner.config import Settings
from provisioner.models import Job, Space, Tenant
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
