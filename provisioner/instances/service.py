"""Requesting, approving, rejecting and removing instances. Long work becomes a job."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, raiseload

from provisioner.auth.actor import Actor
from provisioner.catalog.loader import Catalog
from provisioner.catalog.modes import require_mode
from provisioner.catalog.parameters import validate_parameters
from provisioner.config import Settings, get_settings
from provisioner.errors import Conflict, InvalidInput, NotFound
from provisioner.instances.credentials import store_secrets
from provisioner.instances.hostnames import (
    assign_domain,
    check_subdomain_free,
    default_subdomain,
    flush_live_instance,
)
from provisioner.instances.placement import allocate_host_ports, choose_server
from provisioner.instances.states import InstanceState, check_transition
from provisioner.jobs.service import create_job
from provisioner.jobs.states import JobKind
from provisioner.models import INSTANCE_EXTRAS_ON_ACCESS, Backup, BackupRestore, Instance, Job, Tenant
from provisioner.notices import events as notice_events
from provisioner.pagination import Page, paginate
from provisioner.tenants.leaving import refuse_while_leaving
from provisioner.tenants.quotas import check_quota, hold_tenant
from provisioner.timeutil import utcnow


def set_state(instance: Instance, target: InstanceState, *, reason: str | None = None) -> None:
    check_transition(instance.state, target)
    instance.state = target.value
    instance.state_reason = reason
    instance.updated_at = utcnow()


def requested_for(session: Session, *, actor: Actor, tenant_id: str | None) -> str:
    """The association a request is for, which the actor may change: an operator names it, a tenant
    token acts for its own (a different tenant field is refused, not ignored)."""
    if actor.is_operator:
        if tenant_id is None:
            raise InvalidInput(
                "an operator must say for which tenant",
                errors=[{"field": "body.tenant", "message": "required for operator tokens"}],
            )
        tenant = session.get(Tenant, tenant_id)
        if tenant is None or tenant.kind != "association":
            raise InvalidInput(
                "unknown tenant", errors=[{"field": "body.tenant", "message": "no such tenant"}]
            )
    elif tenant_id not in (None, actor.tenant_id):
        raise InvalidInput(
            "a tenant token acts for its own tenant only",
            errors=[{"field": "body.tenant", "message": "must be left out or be your own tenant"}],
        )
    chosen = tenant_id if actor.is_operator else actor.tenant_id
    assert chosen is not None  # noqa: S101 - a tenant actor has its tenant
    actor.require_write(chosen, "tenant")
    return chosen


def request_instance(
    session: Session,
    *,
    actor: Actor,
    catalog: Catalog,
    template: str,
    name: str,
    parameters: dict[str, Any],
    tenant_id: str | None,
    subdomain: str | None = None,
    settings: Settings | None = None,
) -> Instance:
    tenant_id = requested_for(session, actor=actor, tenant_id=tenant_id)
    found = catalog.get(template)
    require_mode(session, found, "dedicated")
    params = validate_parameters(found, parameters)
    hold_tenant(session, tenant_id=tenant_id)
    refuse_while_leaving(session, tenant_id=tenant_id, what="a new service")
    taken = select(Instance.id).where(
        Instance.tenant_id == tenant_id, Instance.name == name, Instance.state != InstanceState.REMOVED
    )
    if session.scalar(taken) is not None:
        raise Conflict(f"this association already has an instance called {name!r}")
    tenant = session.get_one(Tenant, tenant_id)
    settings = settings or get_settings()
    check_quota(session, catalog, settings, tenant=tenant, template=found.name)
    chosen = subdomain or default_subdomain(name, tenant.slug)
    domain = settings.base_domain
    check_subdomain_free(session, subdomain=chosen, domain=domain, instance_id=None)
    instance = Instance(
        subdomain=chosen,
        domain=domain,
        tenant_id=tenant_id,
        template=found.name,
        version=found.default_version,
        name=name,
        parameters=params,
        state=InstanceState.REQUESTED.value,
    )
    session.add(instance)
    flush_live_instance(session, instance)
    notice_events.request_waiting(session, instance=instance)
    return instance


def get_instance(session: Session, *, actor: Actor, instance_id: str) -> Instance:
    instance = session.get(Instance, instance_id, options=INSTANCE_EXTRAS_ON_ACCESS)
    if instance is None or not actor.can_see_tenant(instance.tenant_id):
        raise NotFound("instance not found")
    return instance


def list_instances(
    session: Session, *, actor: Actor, tenant_id: str | None, limit: int, cursor: str | None
) -> Page[Instance]:
    # A listing shows the instances' own columns: none of the association, server, secrets and ports
    # that loading an instance joins or fetches with it (two queries and most of a page's CPU).
    query = select(Instance).options(raiseload("*"))
    if not actor.is_operator:
        query = query.where(Instance.tenant_id == actor.tenant_id)
    if tenant_id is not None:
        query = query.where(Instance.tenant_id == tenant_id)
    return paginate(session, query, Instance, limit=limit, cursor=cursor)


def approve_instance(
    session: Session,
    *,
    actor: Actor,
    catalog: Catalog,
    instance_id: str,
    server_id: str | None,
    settings: Settings | None = None,
) -> Job:
    actor.require_operator()
    settings = settings or get_settings()
    instance = get_instance(session, actor=actor, instance_id=instance_id)
    set_state(instance, InstanceState.APPROVED)
    hold_tenant(session, tenant_id=instance.tenant_id)
    refuse_while_leaving(session, tenant_id=instance.tenant_id, what="approving a service")
    # The quota may have been lowered since the request.
    check_quota(
        session,
        catalog,
        settings,
        tenant=instance.tenant,
        template=instance.template,
        instance_id=instance.id,
    )
    template = catalog.get(instance.template)
    server = choose_server(session, catalog, need=template.resources, server_id=server_id)
    instance.server_id = server.id
    instance.server = server
    assign_domain(session, settings, instance, server)
    allocate_host_ports(session, template, instance, server)
    store_secrets(settings, instance, template)
    flush_live_instance(session, instance)
    notice_events.request_approved(session, instance=instance)
    if instance.copy_of_backup_id is not None:
        return _restore_into_copy(session, instance, actor=actor)
    return create_job(session, instance=instance, kind=JobKind.DEPLOY)


def _restore_into_copy(session: Session, instance: Instance, *, actor: Actor) -> Job:
    """An approved copy is deployed and gets its backup by one restore job."""
    backup = session.get(Backup, instance.copy_of_backup_id)
    if backup is None or backup.status != "succeeded":
        raise Conflict("the backup this copy was asked from is gone; reject the request")
    instance.copy_of_backup_id = None
    return restore_job(session, instance=instance, backup_id=backup.id, requested_by=actor.principal)


def restore_job(session: Session, *, instance: Instance, backup_id: str, requested_by: str) -> Job:
    """A job that puts ``backup_id`` back into ``instance`` (deploying it first when it is new)."""
    job = create_job(session, instance=instance, kind=JobKind.RESTORE, requested_by=requested_by)
    session.add(BackupRestore(job_id=job.id, backup_id=backup_id))
    session.flush()
    return job


def reject_instance(session: Session, *, actor: Actor, instance_id: str, reason: str) -> Instance:
    actor.require_operator()
    instance = get_instance(session, actor=actor, instance_id=instance_id)
    set_state(instance, InstanceState.REJECTED, reason=reason)
    notice_events.request_rejected(session, instance=instance)
    return instance
