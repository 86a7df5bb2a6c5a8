"""What the lab measured over the last days, as series to draw: each instance's footprint and health, each
server's memory, disk and its services' processor use. Read from the collections and health changes the
lab keeps (``KEEP``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.models import HealthEvent, Instance, InstanceMetric, ServerMetric


@dataclass(frozen=True)
class Sample:
    at: datetime
    value: float


@dataclass(frozen=True)
class Span:
    """A stretch of time in one health: from ``start`` until ``end``."""

    start: datetime
    end: datetime
    health: str


@dataclass
class InstanceHistory:
    cpu: list[Sample] = field(default_factory=list)  # processor cores in use
    memory_mb: list[Sample] = field(default_factory=list)
    disk_mb: list[Sample] = field(default_factory=list)


@dataclass
class ServerHistory:
    # Processor cores its services' containers used, summed (the collection measures containers, not the
    # whole machine: the server's own processes are not counted).
    services_cpu: list[Sample] = field(default_factory=list)
    memory_used_mb: list[Sample] = field(default_factory=list)
    memory_total_mb: int | None = None
    disk_used_mb: list[Sample] = field(default_factory=list)
    disk_total_mb: int | None = None


def instance_history(session: Session, *, instance: Instance, since: datetime) -> InstanceHistory:
    """The instance's footprint since ``since``, as measured on whichever server it was placed on."""
    query = (
        select(InstanceMetric.collected_at, InstanceMetric.cpu_percent, InstanceMetric.memory_mb)
        .add_columns(InstanceMetric.disk_mb)
        .where(InstanceMetric.instance_id == instance.id, InstanceMetric.collected_at >= since)
        .order_by(InstanceMetric.collected_at, InstanceMetric.id)
    )
    found = InstanceHistory()
    for at, cpu_percent, memory_mb, disk_mb in session.execute(query):
        found.cpu.append(Sample(at, cpu_percent / 100))
        found.memory_mb.append(Sample(at, memory_mb))
        if disk_mb is not None:
            found.disk_mb.append(Sample(at, disk_mb))
    return found


def server_histories(
    session: Session, server_ids: Sequence[str], *, since: datetime
) -> dict[str, ServerHistory]:
    """Server id -> its memory and disk in use since ``since`` (collections that reached it), one query."""
    found = {server_id: ServerHistory() for server_id in server_ids}
    query = (
        select(
            ServerMetric.server_id,
            ServerMetric.collected_at,
            ServerMetric.memory_total_mb,
            ServerMetric.memory_available_mb,
            ServerMetric.disk_total_mb,
            ServerMetric.disk_used_mb,
            ServerMetric.instances,
        )
        .where(
            ServerMetric.server_id.in_(list(server_ids)),
            ServerMetric.collected_at >= since,
            ServerMetric.reachable.is_(True),
        )
        .order_by(ServerMetric.collected_at, ServerMetric.id)
    )
    for server_id, at, memory_total, memory_available, disk_total, disk_used, footprints in session.execute(
        query
    ):
        history = found[server_id]
        cpu_percent = sum(float(used.get("cpu_percent") or 0) for used in (footprints or {}).values())
        history.services_cpu.append(Sample(at, cpu_percent / 100))
        if memory_total is not None and memory_available is not None:
            history.memory_used_mb.append(Sample(at, memory_total - memory_available))
            history.memory_total_mb = memory_total
        if disk_total is not None and disk_used is not None:
            history.disk_used_mb.append(Sample(at, disk_used))
            history.disk_total_mb = disk_total
    return found


def health_spans(session: Session, *, instance: Instance, since: datetime, until: datetime) -> list[Span]:
    """The instance's health from ``since`` until ``until``, built from the recorded changes.

    Before the first change in the window the instance was in that change's previous health; without a
    change in the window, in its health now. Stretches while it was not checked yet are left out.
    """
    if instance.health_checked_at is None:
        return []
    query = (
        select(HealthEvent.created_at, HealthEvent.previous, HealthEvent.current)
        .where(HealthEvent.instance_id == instance.id, HealthEvent.created_at >= since)
        .where(HealthEvent.created_at <= until)
        .order_by(HealthEvent.created_at, HealthEvent.id)
    )
    changes = list(session.execute(query))
    start = since
    health = changes[0].previous if changes else instance.health
    spans: list[Span] = []
    for at, _previous, current in changes:
        if at > start:
            spans.append(Span(start, at, health))
        start, health = max(start, at), current
    if until > start:
        spans.append(Span(start, until, health))
    return [span for span in spans if span.health != "unknown"]
