"""Server reachability, disk, memory and each instance's footprint, collected with one SSH call per server."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from provisioner.alerts import AlertKind, raise_alert, resolve_alert
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.models import Instance, InstanceMetric, Server, ServerCa, ServerMetric
from provisioner.monitoring.remote import RemoteError, Sections, collection_script, run_script
from provisioner.timeutil import utcnow

log = logging.getLogger(__name__)

KEEP = timedelta(days=7)
_UNITS = {"b": 1, "kb": 1e3, "kib": 1024, "mb": 1e6, "mib": 1024**2, "gb": 1e9, "gib": 1024**3, "tb": 1e12}
_UNITS["tib"] = 1024**4
_SIZE = re.compile(r"^\s*([0-9.]+)\s*([A-Za-z]+)\s*$")


@dataclass
class Collection:
    reachable: bool
    error: str | None = None
    disk_total_mb: int | None = None
    disk_used_mb: int | None = None
    memory_total_mb: int | None = None
    memory_available_mb: int | None = None
    instances: dict[str, dict[str, float]] = field(default_factory=dict)
    ca_pem: str | None = None

    @property
    def disk_percent(self) -> float | None:
        if not self.disk_total_mb or self.disk_used_mb is None:
            return None
        return 100.0 * self.disk_used_mb / self.disk_total_mb


def collect(settings: Settings, server: Server) -> Collection:
    try:
        sections = run_script(settings, server, collection_script(server))
    except RemoteError as exc:
        return Collection(reachable=False, error=str(exc))
    return parse_collection(sections)


def parse_collection(sections: Sections) -> Collection:
    found = Collection(reachable=True)
    disk = sections.lines("disk")
    if disk:
        fields = disk[-1].split()
        if len(fields) >= 4 and fields[1].isdigit() and fields[2].isdigit():
            found.disk_total_mb, found.disk_used_mb = int(fields[1]) // 1024, int(fields[2]) // 1024
    for line in sections.lines("memory"):
        name, _, value = line.partition(":")
        kilobytes = int(value.split()[0])
        if name == "MemTotal":
            found.memory_total_mb = kilobytes // 1024
        elif name == "MemAvailable":
            found.memory_available_mb = kilobytes // 1024
    owners = dict(line.split("\t", 1) for line in sections.lines("containers") if "\t" in line)
    for line in sections.lines("stats"):
        fields = line.split("\t")
        if len(fields) != 3 or fields[0] not in owners:
            continue
        footprint = found.instances.setdefault(owners[fields[0]], {"cpu_percent": 0.0, "memory_mb": 0.0})
        footprint["cpu_percent"] += _percent(fields[1])
        footprint["memory_mb"] += _bytes(fields[2].split("/")[0]) / 1024**2
    for instance_id, mb in disk_use(sections).items():
        found.instances.setdefault(instance_id, {"cpu_percent": 0.0, "memory_mb": 0.0})["disk_mb"] = mb
    found.ca_pem = ca_pem(sections)
    return found


def disk_use(sections: Sections) -> dict[str, float]:
    """MiB per instance, over its volumes and folder; none for an instance du did not finish in time."""
    paths: dict[str, list[str]] = {}
    for line in sections.lines("mounts"):
        instance_id, _, path = line.partition(" ")
        if path:
            paths.setdefault(instance_id, []).append(path)
    kilobytes: dict[str, int] = {}
    for line in sections.lines("du"):
        size, _, path = line.partition("\t")
        if size.isdigit():
            kilobytes[path] = int(size)
    return {
        instance_id: sum(kilobytes[p] for p in own) / 1024
        for instance_id, own in paths.items()
        if all(p in kilobytes for p in own)
    }


def ca_pem(sections: Sections) -> str | None:
    ca = "\n".join(sections.lines("ca"))
    return ca + "\n" if "BEGIN CERTIFICATE" in ca else None


def _percent(text: str) -> float:
    try:
        return float(text.strip().rstrip("%"))
    except ValueError:
        return 0.0


def _bytes(text: str) -> float:
    match = _SIZE.match(text)
    if not match:
        return 0.0
    return float(match.group(1)) * _UNITS.get(match.group(2).lower(), 0)


def collect_all(settings: Settings, *, server_ids: Sequence[str] | None = None) -> dict[str, Collection]:
    """Collect from every server at once (threads wait on SSH), then record it all in one transaction."""
    url = settings.resolved_database_url
    with transaction(url) as session:
        query = select(Server)
        if server_ids is not None:
            query = query.where(Server.id.in_(server_ids))
        servers = list(session.scalars(query))
        session.expunge_all()
    if not servers:
        return {}
    with ThreadPoolExecutor(max_workers=min(16, len(servers))) as pool:
        found = dict(
            zip([s.id for s in servers], pool.map(lambda s: collect(settings, s), servers), strict=True)
        )
    with transaction(url) as session:
        for server_id, collection in found.items():
            record(session, settings, server_id, collection)
    return found


def record(session: Session, settings: Settings, server_id: str, found: Collection) -> None:
    server = session.get(Server, server_id)
    if server is None:  # removed while we asked it
        return
    now = utcnow()
    placed = _placed_on(session, [server_id])
    # What a server prints is untrusted: root there could report figures for another server's instances.
    own = {k: v for k, v in found.instances.items() if placed.get(k) == server_id}
    server.reachable = found.reachable
    server.checked_at = now
    session.add(
        ServerMetric(
            server_id=server_id,
            collected_at=now,
            reachable=found.reachable,
            error=found.error,
            disk_total_mb=found.disk_total_mb,
            disk_used_mb=found.disk_used_mb,
            memory_total_mb=found.memory_total_mb,
            memory_available_mb=found.memory_available_mb,
            instances=own,
        )
    )
    session.add_all(
        InstanceMetric(
            instance_id=instance_id,
            server_id=server_id,
            collected_at=now,
            cpu_percent=figures.get("cpu_percent", 0.0),
            memory_mb=figures.get("memory_mb", 0.0),
            disk_mb=figures.get("disk_mb"),
        )
        for instance_id, figures in own.items()
    )
    if found.ca_pem:
        store_ca(session, server_id, found.ca_pem)
    for table in (ServerMetric, InstanceMetric):
        session.execute(delete(table).where(table.server_id == server_id, table.collected_at < now - KEEP))
    _alerts(session, settings, server, found)


def store_ca(session: Session, server_id: str, pem: str) -> None:
    row = session.get(ServerCa, server_id)
    if row is None:
        session.add(ServerCa(server_id=server_id, pem=pem, fetched_at=utcnow()))
    elif row.pem != pem:
        row.pem, row.fetched_at = pem, utcnow()


def _alerts(session: Session, settings: Settings, server: Server, found: Collection) -> None:
    if found.reachable:
        resolve_alert(session, settings, kind=AlertKind.SERVER_UNREACHABLE, subject_id=server.id)
    else:
        summary = f"server {server.name} is unreachable: {found.error}"
        raise_alert(
            session,
            settings,
            kind=AlertKind.SERVER_UNREACHABLE,
            subject_id=server.id,
            tenant_id=None,
            summary=summary,
        )
    percent = found.disk_percent
    if percent is None:
        return
    if percent >= settings.alert_disk_percent:
        summary = f"server {server.name}: disk {percent:.0f}% full (threshold {settings.alert_disk_percent}%)"
        raise_alert(
            session, settings, kind=AlertKind.DISK_FULL, subject_id=server.id, tenant_id=None, summary=summary
        )
    else:
        resolve_alert(session, settings, kind=AlertKind.DISK_FULL, subject_id=server.id)


def latest(session: Session, server_id: str) -> ServerMetric | None:
    query = select(ServerMetric).where(ServerMetric.server_id == server_id)
    return session.scalar(query.order_by(ServerMetric.collected_at.desc(), ServerMetric.id.desc()).limit(1))


def newest_metrics(
    session: Session, server_ids: Iterable[str], *, since: datetime
) -> dict[str, ServerMetric]:
    """Server id -> its newest collection that reached it since ``since``; one query for all servers."""
    query = (
        select(ServerMetric)
        .where(
            ServerMetric.server_id.in_(list(server_ids)),
            ServerMetric.collected_at >= since,
            ServerMetric.reachable.is_(True),
        )
        .order_by(ServerMetric.collected_at.desc(), ServerMetric.id.desc())
    )
    found: dict[str, ServerMetric] = {}
    for metric in session.scalars(query):
        found.setdefault(metric.server_id, metric)
    return found


def footprints(session: Session, server_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The latest footprint of each instance on these servers: cpu_percent, memory_mb, disk_mb.

    Each instance's figures come from the report of the server it is placed on, never from another's
    (collections recorded before reports were filtered may name instances of other servers).
    """
    placed = _placed_on(session, server_ids)
    found: dict[str, dict[str, Any]] = {}
    for server_id in server_ids:
        metric = latest(session, server_id)
        if metric is not None:
            found |= {
                k: dict(v, collected_at=metric.collected_at.isoformat())
                for k, v in metric.instances.items()
                if placed.get(k) == server_id
            }
    return found


def _placed_on(session: Session, server_ids: Sequence[str]) -> dict[str, str]:
    """Instance id -> the server it is placed on, for the instances on these servers."""
    query = select(Instance.id, Instance.server_id).where(Instance.server_id.in_(list(server_ids)))
    return {row.id: row.server_id for row in session.execute(query) if row.server_id}
