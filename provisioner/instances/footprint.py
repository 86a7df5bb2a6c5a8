"""What an instance takes from a server, and an estimate of the power that stands for.

Measured figures come from the newest recent collection of the instance's server (``docker stats`` and
``du`` over SSH, see ``provisioner/monitoring``); without one the figures are the template's reserved
resources, and say so. The power estimate multiplies the figures with coefficients from the Cloud Carbon
Footprint methodology (cloudcarbonfootprint.org): a vCPU at half load between 0.74 W and 3.5 W
(so 2.12 W), memory 0.392 W per GB, SSD storage 1.2 W per TB.
The lab takes these as its assumption; real servers differ, so the figure is a rough guide.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor
from provisioner.catalog.loader import Catalog
from provisioner.config import Settings
from provisioner.instances.states import InstanceState
from provisioner.models import Instance
from provisioner.monitoring.metrics import newest_metrics
from provisioner.timeutil import utcnow

WATTS_PER_VCPU = 2.12
WATTS_PER_GB_MEMORY = 0.392
WATTS_PER_GB_DISK = 0.0012
HOURS_PER_YEAR = 24 * 365
# A collection older than this many metrics intervals no longer stands for the instance's use.
RECENT_INTERVALS = 3


@dataclass(frozen=True)
class Footprint:
    cpu: float
    memory_mb: float
    disk_gb: float
    measured: bool  # False: the template's reservation, not a measurement
    measured_at: datetime | None = None  # of a total: its oldest measurement

    @property
    def watts(self) -> float:
        return (
            self.cpu * WATTS_PER_VCPU
            + self.memory_mb / 1024 * WATTS_PER_GB_MEMORY
            + self.disk_gb * WATTS_PER_GB_DISK
        )

    @property
    def kwh_per_year(self) -> float:
        return self.watts * HOURS_PER_YEAR / 1000


def reserved(catalog: Catalog, instance: Instance) -> Footprint:
    need = catalog.get(instance.template).resources
    return Footprint(cpu=need.cpu, memory_mb=need.memory_mb, disk_gb=need.disk_gb, measured=False)


def measured(session: Session, settings: Settings, instances: Iterable[Instance]) -> dict[str, Footprint]:
    """Instance id -> its figures from its server's newest collection in the last few metrics intervals.

    Instances without one are left out (their reservation stands in). The caller got ``instances``
    through the actor's checks; one query serves any number of instances.
    """
    return _measured(session, settings, [(row.id, row.server_id) for row in instances])


def measured_by_tenant(session: Session, settings: Settings, *, actor: Actor) -> dict[str, Footprint]:
    """Tenant id -> the sum of its measured instances; an operator sees every tenant, others their own."""
    query = select(Instance.id, Instance.server_id, Instance.tenant_id).where(
        Instance.server_id.is_not(None), Instance.state != InstanceState.REMOVED.value
    )
    if not actor.is_operator:
        query = query.where(Instance.tenant_id == actor.tenant_id)
    rows = session.execute(query).all()
    found = _measured(session, settings, [(row.id, row.server_id) for row in rows])
    by_tenant: dict[str, list[Footprint]] = {}
    for row in rows:
        if row.id in found:
            by_tenant.setdefault(row.tenant_id, []).append(found[row.id])
    return {tenant_id: total(figures) for tenant_id, figures in by_tenant.items()}


def _measured(
    session: Session, settings: Settings, placed: list[tuple[str, str | None]]
) -> dict[str, Footprint]:
    since = utcnow() - timedelta(seconds=RECENT_INTERVALS * settings.metrics_interval_seconds)
    metrics = newest_metrics(session, {server_id for _, server_id in placed if server_id}, since=since)
    found: dict[str, Footprint] = {}
    for instance_id, server_id in placed:
        metric = metrics.get(server_id or "")
        figures = metric.instances.get(instance_id) if metric else None
        # Without its disk figure (du ran out of time) a measurement would undercount: not used.
        if metric is None or not figures or "disk_mb" not in figures:
            continue
        found[instance_id] = Footprint(
            cpu=figures.get("cpu_percent", 0.0) / 100,
            memory_mb=figures.get("memory_mb", 0.0),
            disk_gb=figures["disk_mb"] / 1024,
            measured=True,
            measured_at=metric.collected_at,
        )
    return found


def total(footprints: Iterable[Footprint]) -> Footprint:
    rows = list(footprints)
    times = [f.measured_at for f in rows if f.measured_at is not None]
    return Footprint(
        cpu=sum(f.cpu for f in rows),
        memory_mb=sum(f.memory_mb for f in rows),
        disk_gb=sum(f.disk_gb for f in rows),
        measured=bool(rows) and all(f.measured for f in rows),
        measured_at=min(times) if times else None,
    )
