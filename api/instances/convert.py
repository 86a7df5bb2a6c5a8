"""Instance rows to response bodies."""

from __future__ import annotations

from api.instances import schemas
from provisioner.models import Instance


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
