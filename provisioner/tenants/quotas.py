"""Quotas per tenant: how many instances, how much memory and disk its instances may reserve in all.

Every instance not removed or rejected counts, with its template's resources, also while it waits for
approval: what was asked for is what the lab promised to look at.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from provisioner.catalog.loader import Catalog
from provisioner.catalog.model import Resources
from provisioner.config import Settings
from provisioner.errors import Conflict
from provisioner.instances.states import InstanceState
from provisioner.models import Instance, Tenant

NOT_COUNTED = (InstanceState.REMOVED.value, InstanceState.REJECTED.value)


class QuotaExceeded(Conflict):
    title = "Quota exceeded"


@dataclass(frozen=True)
class Amounts:
    instances: int
    memory_mb: int
    disk_gb: int


def quota_of(settings: Settings, tenant: Tenant) -> Amounts:
    return Amounts(
        instances=_or(tenant.quota_instances, settings.quota_instances),
        memory_mb=_or(tenant.quota_memory_mb, settings.quota_memory_mb),
        disk_gb=_or(tenant.quota_disk_gb, settings.quota_disk_gb),
    )


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def usage_of(session: Session, catalog: Catalog, tenant_id: str, *, excluding: str | None = None) -> Amounts:
    return usage_by_tenant(session, catalog, [tenant_id], excluding=excluding)[tenant_id]


def usage_by_tenant(
    session: Session, catalog: Catalog, tenant_ids: Sequence[str], *, excluding: str | None = None
) -> dict[str, Amounts]:
    """What each tenant's counted instances reserve; one query for any number of tenants."""
    query = select(Instance.id, Instance.tenant_id, Instance.template).where(
        Instance.tenant_id.in_(tenant_ids), Instance.state.not_in(NOT_COUNTED)
    )
    known = {t.name: t.resources for t in catalog.all()}
    rows: dict[str, list[str]] = {tenant_id: [] for tenant_id in tenant_ids}
    for row in session.execute(query):
        if row.id != excluding:
            rows[row.tenant_id].append(row.template)
    return {
        tenant_id: Amounts(
            instances=len(templates),
            memory_mb=sum(known[t].memory_mb for t in templates if t in known),
            disk_gb=sum(known[t].disk_gb for t in templates if t in known),
        )
        for tenant_id, templates in rows.items()
    }


def hold_tenant(session: Session, *, tenant_id: str) -> None:
    """Hold the tenant's row until the transaction ends, so counting its instances and adding one
    happen as one step: of two requests at the same moment, the second counts the first's instance.

    PostgreSQL locks the row; SQLite has one writer at a time, and a write as the transaction's first
    statement makes it that writer, reading only after the other writer committed.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(Tenant).where(Tenant.id == tenant_id).values(id=Tenant.id))
    else:
        session.execute(select(Tenant.id).where(Tenant.id == tenant_id).with_for_update())


def check_quota(
    session: Session,
    catalog: Catalog,
    settings: Settings,
    *,
    tenant: Tenant,
    template: str,
    instance_id: str | None = None,
) -> None:
    """Refuse one more instance of ``template`` (or ``instance_id``, counted already) beyond the quota."""
    asked: Resources = catalog.get(template).resources
    used = usage_of(session, catalog, tenant.id, excluding=instance_id)
    quota = quota_of(settings, tenant)
    over = [
        f"{what}: {in_use}{unit} in use, {more}{unit} more asked, quota {limit}{unit}"
        for what, in_use, more, limit, unit in (
            ("instances", used.instances, 1, quota.instances, ""),
            ("memory", used.memory_mb, asked.memory_mb, quota.memory_mb, " MB"),
            ("disk", used.disk_gb, asked.disk_gb, quota.disk_gb, " GB"),
        )
        if in_use + more > limit
    ]
    if over:
        raise QuotaExceeded(
            f"{tenant.name} would go beyond its quota with this {template} — {'; '.join(over)}. "
            "Remove an instance, or ask the lab's operators to raise the quota."
        )
