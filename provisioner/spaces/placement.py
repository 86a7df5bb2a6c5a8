"""Where a space goes: into a shared instance of its service with room, or into a new one.

Every placement decision, and the decision to remove a shared instance whose last space went, holds
the lab tenant's row first: two approvals at the same moment never both make a new shared instance
of a lab-wide service, and a space is never placed into an instance that is being removed.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from provisioner.catalog.loader import Catalog
from provisioner.catalog.model import Template
from provisioner.catalog.parameters import validate_parameters
from provisioner.catalog.sharing import SharedMode, shared_mode
from provisioner.config import Settings
from provisioner.errors import Conflict
from provisioner.instances.credentials import store_secrets
from provisioner.instances.hostnames import assign_domain, flush_live_instance
from provisioner.instances.placement import allocate_host_ports, choose_server
from provisioner.instances.service import set_state
from provisioner.instances.states import InstanceState
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.models import Instance, Job, Space, Tenant
from provisioner.spaces.states import LIVE
from provisioner.tenants.quotas import hold_tenant

LAB_KIND = "lab"
# Association slugs are DNS labels; this one cannot be one, so no association ever takes it.
LAB_SLUG = "_lab"
# A space goes only into a shared instance that is on its way up or running.
TAKES_SPACES = (InstanceState.APPROVED, InstanceState.PROVISIONING, InstanceState.RUNNING)


def lab_tenant(session: Session, settings: Settings) -> Tenant:
    """The tenant that owns the lab's shared instances, made the first time one is needed."""
    found = session.scalars(select(Tenant).where(Tenant.kind == LAB_KIND)).first()
    if found is not None:
        return found
    try:
        with session.begin_nested():
            tenant = Tenant(
                slug=LAB_SLUG,
                name="Shared services of the lab",
                contact_email=settings.smtp_from,
                kind=LAB_KIND,
            )
            session.add(tenant)
        return tenant
    except IntegrityError:
        # Another request made it at the same moment.
        return session.scalars(select(Tenant).where(Tenant.kind == LAB_KIND)).one()


def hold_placements(session: Session, settings: Settings) -> Tenant:
    lab = lab_tenant(session, settings)
    hold_tenant(session, tenant_id=lab.id)
    return lab


def live_spaces_in(session: Session, instance_id: str) -> int:
    query = select(func.count()).where(
        Space.instance_id == instance_id, Space.state.in_([s.value for s in LIVE])
    )
    return int(session.scalar(query) or 0)


def _removal_queued(session: Session, instance_id: str) -> bool:
    query = select(Job.id).where(
        Job.instance_id == instance_id,
        Job.kind == JobKind.REMOVE.value,
        Job.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value]),
    )
    return session.scalar(query.limit(1)) is not None


def shared_instances(session: Session, template: str) -> list[Instance]:
    query = (
        select(Instance)
        .where(Instance.shared.is_(True), Instance.template == template)
        .order_by(Instance.created_at, Instance.id)
    )
    return list(session.scalars(query).unique())


def place_space(
    session: Session,
    settings: Settings,
    catalog: Catalog,
    *,
    space: Space,
    template: Template,
    server_id: str | None = None,
) -> Instance:
    """The shared instance the space goes into (approved and waiting for its deploy when new); with
    ``server_id``, the one on that server (made there when it has none with room)."""
    shared = shared_mode(template.sharing, template.name)
    lab = hold_placements(session, settings)
    existing = shared_instances(session, template.name)
    for instance in existing:
        if InstanceState(instance.state) not in TAKES_SPACES or _removal_queued(session, instance.id):
            continue
        if server_id is not None and instance.server_id != server_id:
            continue
        if live_spaces_in(session, instance.id) < shared.spaces_per_instance:
            return instance
    live = [i for i in existing if i.state != InstanceState.REMOVED]
    if shared.scope == "lab" and live:
        raise Conflict(
            f"the lab's shared {template.name} holds as many spaces as it may "
            f"({shared.spaces_per_instance}); remove a space or offer the dedicated mode"
        )
    busy_servers = frozenset(i.server_id for i in live if i.server_id is not None)
    if server_id in busy_servers:
        raise Conflict(
            f"the shared {template.name} on that server holds as many spaces as it may",
            errors=[{"field": "body.server", "message": "choose another server or leave it out"}],
        )
    return _new_shared_instance(
        session, settings, catalog, lab=lab, template=template, shared=shared, number=len(existing) + 1,
        server_id=server_id, exclude=busy_servers,
    )  # fmt: skip


def _new_shared_instance(
    session: Session,
    settings: Settings,
    catalog: Catalog,
    *,
    lab: Tenant,
    template: Template,
    shared: SharedMode,
    number: int,
    server_id: str | None,
    exclude: frozenset[str],
) -> Instance:
    name = f"{template.name}-shared-{number}"[:40]
    instance = Instance(
        tenant_id=lab.id,
        template=template.name,
        version=template.default_version,
        name=name,
        parameters=validate_parameters(template, dict(shared.parameters)),
        state=InstanceState.REQUESTED.value,
        subdomain=name,
        domain=settings.base_domain,
        shared=True,
    )
    session.add(instance)
    flush_live_instance(session, instance)
    set_state(instance, InstanceState.APPROVED)
    server = choose_server(session, catalog, need=template.resources, server_id=server_id, exclude=exclude)
    instance.server_id = server.id
    instance.server = server
    assign_domain(session, settings, instance, server)
    allocate_host_ports(session, template, instance, server)
    store_secrets(settings, instance, template)
    flush_live_instance(session, instance)
    return instance
