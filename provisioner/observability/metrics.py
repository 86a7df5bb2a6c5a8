"""The lab's figures in Prometheus's format, read from the database at each scrape.

The database is the truth and every API process reads the same one, so any process answers a scrape
with the same figures: no shared memory between processes, nothing lost on a restart. Each family is
one grouped query; label values are our own ids and names (instance and server ids, the catalog's
template names, validated tenant slugs), never text a person typed freely.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import ColumnElement, Executable, Float, case, cast, extract, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from provisioner.catalog.loader import Catalog
from provisioner.instances.placement import used_capacities
from provisioner.instances.states import InstanceState
from provisioner.jobs.states import FINISHED, JobStatus
from provisioner.models import Backup, DrillResult, Instance, Job, Server, Tenant

# Job durations: a homepage deploys in seconds, a Discourse build takes most of an hour.
DURATION_BUCKETS = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)
MIB = 1024 * 1024
GIB = 1024 * MIB


def _seconds_between(
    start: InstrumentedAttribute[datetime | None], end: InstrumentedAttribute[datetime | None], dialect: str
) -> ColumnElement[float]:
    if dialect == "sqlite":
        # SQLite keeps datetimes as text; julianday() reads it and counts in days, as a double whose last
        # digits are noise at this scale: milliseconds are what is left.
        return func.round((func.julianday(end) - func.julianday(start)) * 86400.0, 3)
    return cast(extract("epoch", end - start), Float)


def _timestamp(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


@dataclass(eq=False)  # the registry keys collectors by identity
class LabCollector(Collector):
    session: Session
    catalog: Catalog

    def collect(self) -> Iterator[Metric]:
        yield from self._jobs()
        yield self._instances()
        yield from self._backups_and_drills()
        yield from self._servers()

    def _counted(self, family: CounterMetricFamily | GaugeMetricFamily, query: Executable) -> Metric:
        """``family`` with one sample per row of ``query``: its label values, then the count."""
        for *labels, count in self.session.execute(query):
            family.add_metric([str(label) for label in labels], count)
        return family

    def _jobs(self) -> Iterator[Metric]:
        yield self._counted(
            CounterMetricFamily(
                "provisioner_jobs_finished",
                "Jobs that ended, by kind and outcome.",
                labels=["kind", "outcome"],
            ),
            select(Job.kind, Job.status, func.count())
            .where(Job.status.in_([status.value for status in FINISHED]))
            .group_by(Job.kind, Job.status),
        )
        yield self._counted(
            GaugeMetricFamily(
                "provisioner_jobs",
                "Jobs waiting in the queue or running now, by kind.",
                labels=["kind", "status"],
            ),
            select(Job.kind, Job.status, func.count())
            .where(Job.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value]))
            .group_by(Job.kind, Job.status),
        )

        dialect = self.session.get_bind().dialect.name
        duration = _seconds_between(Job.started_at, Job.finished_at, dialect)
        below = [func.sum(case((duration <= bound, 1), else_=0)) for bound in DURATION_BUCKETS]
        histogram = HistogramMetricFamily(
            "provisioner_job_duration_seconds",
            "How long finished jobs ran, from the claim to the outcome, by kind.",
            labels=["kind"],
        )
        rows = self.session.execute(
            select(Job.kind, func.count(), func.sum(duration), *below)
            .where(Job.started_at.is_not(None), Job.finished_at.is_not(None))
            .group_by(Job.kind)
        )
        for kind, count, total, *counts in rows:
            buckets = [(str(bound), int(n or 0)) for bound, n in zip(DURATION_BUCKETS, counts, strict=True)]
            histogram.add_metric([kind], [*buckets, ("+Inf", int(count))], float(total or 0))
        yield histogram

    def _instances(self) -> Metric:
        return self._counted(
            GaugeMetricFamily(
                "provisioner_instances",
                "Instances by state and health (removed ones left out).",
                labels=["state", "health"],
            ),
            select(Instance.state, Instance.health, func.count())
            .where(Instance.state != InstanceState.REMOVED.value)
            .group_by(Instance.state, Instance.health),
        )

    def _backups_and_drills(self) -> Iterator[Metric]:
        labels = ["instance", "tenant", "template"]
        last_backup = GaugeMetricFamily(
            "provisioner_instance_last_backup_timestamp_seconds",
            "When the instance's latest successful backup finished (Unix time).",
            labels=labels,
        )
        last_drill = GaugeMetricFamily(
            "provisioner_instance_last_drill_timestamp_seconds",
            "When the instance's latest passed restore drill finished (Unix time).",
            labels=labels,
        )
        drill_failed = GaugeMetricFamily(
            "provisioner_instance_last_drill_failed",
            "1 when the instance's latest finished restore drill failed.",
            labels=labels,
        )
        backed_up = (
            select(Backup.instance_id, func.max(Backup.finished_at).label("at"))
            .where(Backup.status == "succeeded")
            .group_by(Backup.instance_id)
            .subquery()
        )
        drilled = (
            select(DrillResult.instance_id, func.max(DrillResult.finished_at).label("at"))
            .where(DrillResult.status == "passed")
            .group_by(DrillResult.instance_id)
            .subquery()
        )
        latest_drill = (
            select(DrillResult.instance_id, func.max(DrillResult.finished_at).label("at"))
            .where(DrillResult.status.in_(["passed", "failed"]))
            .group_by(DrillResult.instance_id)
            .subquery()
        )
        failed_latest = (
            select(DrillResult.instance_id)
            .join(
                latest_drill,
                (DrillResult.instance_id == latest_drill.c.instance_id)
                & (DrillResult.finished_at == latest_drill.c.at),
            )
            .where(DrillResult.status == "failed")
        )
        failed = set(self.session.scalars(failed_latest))
        rows = self.session.execute(
            select(Instance.id, Tenant.slug, Instance.template, backed_up.c.at, drilled.c.at)
            .join(Tenant, Instance.tenant_id == Tenant.id)
            .outerjoin(backed_up, backed_up.c.instance_id == Instance.id)
            .outerjoin(drilled, drilled.c.instance_id == Instance.id)
            # Placed on a server: what waits for approval has nothing to back up yet.
            .where(Instance.state != InstanceState.REMOVED.value, Instance.server_id.is_not(None))
        )
        for instance_id, tenant, template, backup_at, drill_at in rows:
            values = [instance_id, tenant, template]
            # An instance never backed up has no series: "absent" is what the alert rule looks for.
            if (at := _timestamp(backup_at)) is not None:
                last_backup.add_metric(values, at)
            if (at := _timestamp(drill_at)) is not None:
                last_drill.add_metric(values, at)
            drill_failed.add_metric(values, 1.0 if instance_id in failed else 0.0)
        yield from (last_backup, last_drill, drill_failed)

    def _servers(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "provisioner_server_up", "1 when the server answered its last check over SSH.", labels=["server"]
        )
        free_cpus = GaugeMetricFamily(
            "provisioner_server_free_cpus", "CPUs not reserved by instances.", labels=["server"]
        )
        free_memory = GaugeMetricFamily(
            "provisioner_server_free_memory_bytes", "Memory not reserved by instances.", labels=["server"]
        )
        free_disk = GaugeMetricFamily(
            "provisioner_server_free_disk_bytes", "Disk not reserved by instances.", labels=["server"]
        )
        servers = list(self.session.scalars(select(Server).order_by(Server.name)))
        used = used_capacities(self.session, self.catalog, [server.id for server in servers])
        for server in servers:
            if server.reachable is not None:
                up.add_metric([server.name], 1.0 if server.reachable else 0.0)
            taken = used[server.id]
            free_cpus.add_metric([server.name], server.cpu - taken.cpu)
            free_memory.add_metric([server.name], float((server.memory_mb - taken.memory_mb) * MIB))
            free_disk.add_metric([server.name], float((server.disk_gb - taken.disk_gb) * GIB))
        yield from (up, free_cpus, free_memory, free_disk)


def render(session: Session, catalog: Catalog) -> bytes:
    """The text exposition format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LabCollector(session, catalog))
    return generate_latest(registry)
