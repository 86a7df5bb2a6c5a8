"""Server rows to response bodies."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.monitoring.convert import server_metrics
from api.servers import schemas
from provisioner.catalog.loader import Catalog
from provisioner.instances.placement import free_capacity, used_capacity
from provisioner.models import Server
from provisioner.servers.hostkeys import fingerprint


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
