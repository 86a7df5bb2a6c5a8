"""Rows to response bodies."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy.orm import Session

from api import schemas
from api.monitoring.convert import server_metrics
from provisioner.catalog.loader import Catalog
from provisioner.catalog.model import Template
from provisioner.catalog.sharing import offered_modes
from provisioner.config import Settings
from provisioner.instances.placement import free_capacity, used_capacity
from provisioner.models import Instance, Job, JobEvent, Server, Space, Tenant
from provisioner.servers.hostkeys import fingerprint
from provisioner.tenants.quotas import quota_of, usage_of


def tenant(row: Tenant) -> schemas.TenantOut:
    return schemas.TenantOut.model_validate(row, from_attributes=True)


def tenant_with_usage(
    session: Session, catalog: Catalog, settings: Settings, row: Tenant
) -> schemas.TenantOut:
    out = tenant(row)
    out.quota = schemas.Quota(**asdict(quota_of(settings, row)))
    out.usage = schemas.Quota(**asdict(usage_of(session, catalog, row.id)))
    return out


def template(row: Template, *, modes: list[str] | None = None) -> schemas.TemplateOut:
    """``modes``: those the lab lets associations request (``spaces.modes.allowed_modes``)."""
    offered = list(offered_modes(row.sharing))
    return schemas.TemplateOut(
        offered_modes=offered,
        modes=modes if modes is not None else ["dedicated"],
        name=row.name,
        title=schemas.Localized(de=row.title.de, en=row.title.en),
        description=schemas.Localized(de=row.description.de, en=row.description.en),
        category=row.category,
        icon=row.icon,
        versions=list(row.versions),
        default_version=row.default_version,
        parameters=row.parameters,
        resources=schemas.Capacity(**row.resources.model_dump()),
    )


def server(session: Session, catalog: Catalog, row: Server) -> schemas.ServerOut:
    used = used_capacity(session, catalog, row)
    free = free_capacity(session, catalog, row)
    return schemas.ServerOut(
        id=row.id,
        name=row.name,
        address=row.address,
        port=row.port,
        user=row.user,
        connection=row.connection,
        public_address=row.public_address,
        root_dir=row.root_dir,
        host_key=row.host_key,
        host_key_fingerprint=fingerprint(row.host_key) if row.host_key else None,
        capacity=schemas.Capacity(cpu=row.cpu, memory_mb=row.memory_mb, disk_gb=row.disk_gb),
        used=schemas.Capacity(cpu=used.cpu, memory_mb=used.memory_mb, disk_gb=used.disk_gb),
        free=schemas.Capacity(
            cpu=max(free.cpu, 0), memory_mb=max(free.memory_mb, 0), disk_gb=max(free.disk_gb, 0)
        ),
        base_domain=row.base_domain,
        tls_mode=row.tls_mode,
        draining=row.draining,
        reachable=row.reachable,
        checked_at=row.checked_at,
        created_at=row.created_at,
        metrics=server_metrics(session, row.id),
    )


def instance(row: Instance) -> schemas.InstanceOut:
    return schemas.InstanceOut(
        id=row.id,
        tenant=row.tenant_id,
        template=row.template,
        version=row.version,
        name=row.name,
        state=row.state,
        state_reason=row.state_reason,
        health=row.health,
        checked_at=row.health_checked_at,
        url=row.url,
        server=row.server_id,
        parameters=row.parameters,
        created_at=row.created_at,
        updated_at=row.updated_at,
        subdomain=row.subdomain,
        hostname=f"{row.subdomain}.{row.domain}" if row.subdomain and row.domain else None,
    )


def job(row: Job) -> schemas.JobOut:
    return schemas.JobOut(
        space=row.space_id,
        id=row.id,
        kind=row.kind,
        status=row.status,
        instance=row.instance_id,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        error=row.error,
        target_version=row.target_version,
        target_server=row.target_server_id,
        cancel_requested=row.cancel_requested_at is not None,
    )


def event(row: JobEvent) -> schemas.EventOut:
    return schemas.EventOut(
        seq=row.seq,
        time=row.created_at,
        host=row.host,
        task=row.task,
        status=row.status,
        line=row.line,
        stdout=row.stdout,
    )


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
    )
