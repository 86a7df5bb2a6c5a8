"""What an instance takes from a server, and an estimate of the power that stands for.

Without measurements the figures are the template's reserved resources. The power estimate multiplies
them with coefficients from the Cloud Carbon Footprint methodology (cloudcarbonfootprint.org): a vCPU at
half load between 0.74 W and 3.5 W (so 2.12 W), memory 0.392 W per GB, SSD storage 1.2 W per TB.
The lab takes these as its assumption; real servers differ, so the figure is a rough guide.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from provisioner.catalog.loader import Catalog
from provisioner.models import Instance

WATTS_PER_VCPU = 2.12
WATTS_PER_GB_MEMORY = 0.392
WATTS_PER_GB_DISK = 0.0012
HOURS_PER_YEAR = 24 * 365


@dataclass(frozen=True)
class Footprint:
    cpu: float
    memory_mb: int
    disk_gb: int
    measured: bool  # False: the template's reservation, not a measurement

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


def total(footprints: Iterable[Footprint]) -> Footprint:
    rows = list(footprints)
    return Footprint(
        cpu=sum(f.cpu for f in rows),
        memory_mb=sum(f.memory_mb for f in rows),
        disk_gb=sum(f.disk_gb for f in rows),
        measured=bool(rows) and all(f.measured for f in rows),
    )
