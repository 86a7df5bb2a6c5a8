"""Rows to response bodies."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy.orm import Session

from api import schemas
from provisioner.catalog.loader import Catalog
from provisioner.config import Settings
from provisioner.models import Space, Tenant
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
