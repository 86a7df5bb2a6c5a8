"""Asking for an export of a whole association: one archive holding every running service of it.

Only its admins (and the lab's operators) ask for one; another association's answers 404. One is made
per association at a time (a partial unique index decides between two requests at the same moment),
and once one is ready the one before is deleted. What the archive holds is decided when the job runs,
service by service (``provisioner.engine.association_export_jobs``).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from provisioner.auth.actor import Actor
from provisioner.backups.targets import default_target
from provisioner.catalog.loader import Catalog
from provisioner.errors import Conflict, NotFound
from provisioner.exports.service import ACTIVE, Requested, queued
from provisioner.instances.states import InstanceState
from provisioner.jobs.service import create_tenant_job
from provisioner.jobs.states import JobKind
from provisioner.models import Backup, Export, Instance, Space, SpaceBackup
from provisioner.tenants.leaving import refuse_while_leaving
from provisioner.tenants.quotas import hold_tenant
from provisioner.tenants.service import get_tenant

# An instance in one of these is gone or never was: it has nothing to export and is not listed.
GONE = (InstanceState.REMOVED.value, InstanceState.REJECTED.value)
BEING_MADE = "an export of the whole association is being made already; wait for it"


def association_services(session: Session, *, tenant_id: str) -> Sequence[Instance]:
    """The association's own services an export lists, by name: all but the removed and the declined."""
    query = select(Instance).where(Instance.tenant_id == tenant_id, Instance.state.not_in(GONE))
    return session.scalars(query.order_by(Instance.name, Instance.id)).unique().all()


def latest_backups_bytes(session: Session, *, instance_ids: list[str], space_ids: Sequence[str] = ()) -> int:
    """The size of each service's (and space's) latest succeeded backup, added up: what its export
    will restore."""
    return _latest_bytes(session, Backup, Backup.instance_id, instance_ids) + _latest_bytes(
        session, SpaceBackup, SpaceBackup.space_id, space_ids
    )


def _latest_bytes(
    session: Session,
    model: type[Backup] | type[SpaceBackup],
    owner: InstrumentedAttribute[str],
    ids: Sequence[str],
) -> int:
    if not ids:
        return 0
    latest = (
        select(owner.label("owner"), func.max(model.created_at).label("at"))
        .where(owner.in_(ids), model.status == "succeeded")
        .group_by(owner)
        .subquery()
    )
    sizes = select(func.coalesce(func.sum(model.size_bytes), 0)).join(
        latest, (owner == latest.c.owner) & (model.created_at == latest.c.at)
    )
    return int(session.scalar(sizes) or 0)


def association_spaces(session: Session, *, tenant_id: str) -> Sequence[Space]:
    """Its spaces in the lab's shared services: in the export where their service can take one space's
    data apart, listed with the reason otherwise."""
    query = select(Space).where(Space.tenant_id == tenant_id, Space.state.not_in(("removed", "rejected")))
    return session.scalars(query.order_by(Space.name, Space.id)).unique().all()


def request_association_export(
    session: Session, *, actor: Actor, catalog: Catalog, tenant_id: str
) -> Requested:
    """Queue the export of all the association's services into one archive: its admins and operators."""
    tenant = get_tenant(session, actor=actor, tenant_id=tenant_id)
    if tenant.kind != "association":
        raise NotFound("tenant not found")
    actor.require_write(tenant.id, "tenant")
    # Held until the commit, so an offboarding asked for at the same moment sees this export's job.
    hold_tenant(session, tenant_id=tenant.id)
    refuse_while_leaving(session, tenant_id=tenant.id, what="an export")
    running = [
        i for i in association_services(session, tenant_id=tenant.id) if i.state == InstanceState.RUNNING
    ]
    known = {template.name: template for template in catalog.all()}
    if any(known[i.template].keeps_data for i in running if i.template in known):
        default_target(session)  # each service's part starts from a fresh backup: a target must exist
    being_made = select(Export.id).where(
        Export.tenant_id == tenant.id,
        Export.instance_id.is_(None),
        Export.space_id.is_(None),
        Export.state.in_(ACTIVE),
    )
    if session.scalar(being_made.limit(1)) is not None:
        raise Conflict(BEING_MADE)
    job = create_tenant_job(
        session, tenant=tenant, kind=JobKind.ASSOCIATION_EXPORT, requested_by=actor.principal
    )
    export = Export(
        tenant_id=tenant.id, instance_id=None, job_id=job.id, state="queued", requested_by=actor.principal
    )
    return queued(session, export, job, being_made=BEING_MADE)


def association_exports(session: Session, *, actor: Actor, tenant_id: str) -> Sequence[Export]:
    """The association's exports of all its services, newest first."""
    tenant = get_tenant(session, actor=actor, tenant_id=tenant_id)
    query = select(Export).where(
        Export.tenant_id == tenant.id, Export.instance_id.is_(None), Export.space_id.is_(None)
    )
    return session.scalars(query.order_by(Export.created_at.desc(), Export.id.desc())).unique().all()
