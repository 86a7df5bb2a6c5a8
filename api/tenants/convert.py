"""Tenant rows to response bodies."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy.orm import Session

from api.tenants import schemas
from provisioner.catalog.loader import Catalog
from provisioner.config import Settings
from provisioner.models import Tenant
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
