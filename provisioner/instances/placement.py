"""Where an instance runs: capacity per server, and the host ports it publishes there."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from provisioner.catalog.loader import Catalog
from provisioner.catalog.model import Resources, Template
from provisioner.errors import Conflict, NotFound
from provisioner.instances.states import InstanceState
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.models import Instance, Job, PortAllocation, Server

# Ports a template declares (media over UDP, say) come from here; the proxy alone has 80 and 443.
HOST_PORT_RANGE = range(40000, 45000)


@dataclass(frozen=True)
class Capacity:
    cpu: float
    memory_mb: int
    disk_gb: int

    def fits(self, need: Resources) -> bool:
        return need.cpu <= self.cpu and need.memory_mb <= self.memory_mb and need.disk_gb <= self.disk_gb


def used_capacities(session: Session, catalog: Catalog, server_ids: list[str]) -> dict[str, Capacity]:
    """What each server's instances reserve, and those on their way to it (a move), counted per
    template in two queries."""
    placed = (
        select(Instance.server_id, Instance.template, func.count())
        .where(Instance.server_id.in_(server_ids), Instance.state != InstanceState.REMOVED)
        .group_by(Instance.server_id, Instance.template)
    )
    arriving = (
        select(Job.target_server_id, Instance.template, func.count(func.distinct(Instance.id)))
        .join(Instance, Job.instance_id == Instance.id)
        .where(
            Job.kind == JobKind.MOVE.value,
            Job.target_server_id.in_(server_ids),
            Job.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value]),
            Instance.server_id != Job.target_server_id,
        )
        .group_by(Job.target_server_id, Instance.template)
    )
    used = {server_id: Capacity(cpu=0, memory_mb=0, disk_gb=0) for server_id in server_ids}
    for server_id, template, count in [*session.execute(placed).all(), *session.execute(arriving).all()]:
        key = str(server_id)  # never None: the queries ask for these servers only
        need, before = catalog.get(template).resources, used[key]
        used[key] = Capacity(
            cpu=before.cpu + need.cpu * count,
            memory_mb=before.memory_mb + need.memory_mb * count,
            disk_gb=before.disk_gb + need.disk_gb * count,
        )
    return used


def used_capacity(session: Session, catalog: Catalog, server: Server) -> Capacity:
    return used_capacities(session, catalog, [server.id])[server.id]


def free_capacity(session: Session, catalog: Catalog, server: Server) -> Capacity:
    used = used_capacity(session, catalog, server)
    return Capacity(
        cpu=server.cpu - used.cpu,
        memory_mb=server.memory_mb - used.memory_mb,
        disk_gb=server.disk_gb - used.disk_gb,
    )


def choose_server(
    session: Session,
    catalog: Catalog,
    *,
    need: Resources,
    server_id: str | None,
    avoid: str | None = None,
    exclude: frozenset[str] = frozenset(),
) -> Server:
    """The named server if it has room, else the one with the most free room; never a draining one
    (nor ``avoid``, the server a moving instance leaves, nor one in ``exclude`` when choosing)."""
    if server_id is not None:
        server = session.get(Server, server_id)
        if server is None:
            raise NotFound("server not found")
        if server.draining or server.id == avoid:
            raise Conflict(
                f"server {server.name} takes no new instances (it is being drained)",
                errors=[{"field": "body.server", "message": "choose a server that is not draining"}],
            )
        free = free_capacity(session, catalog, server)
        if not free.fits(need):
            raise Conflict(
                f"server {server.name} has not enough free capacity for this service: "
                f"{_shortfall(free, need)}",
                errors=[{"field": "body.server", "message": "not enough free capacity"}],
            )
        return server
    open_servers = select(Server).where(Server.draining.is_(False)).order_by(Server.created_at)
    candidates = [
        (free, server)
        for server in session.scalars(open_servers)
        if server.id != avoid
        and server.id not in exclude
        and (free := free_capacity(session, catalog, server)).fits(need)
    ]
    if not candidates:
        raise Conflict(
            "no server has enough free capacity for this service "
            f"(it needs cpu {need.cpu:g}, memory {need.memory_mb} MB, disk {need.disk_gb} GB); "
            "add a server or free some room"
        )
    # Most free memory first: memory is what runs out first on the lab's servers.
    return max(candidates, key=lambda pair: (pair[0].memory_mb, pair[0].cpu))[1]


def _shortfall(free: Capacity, need: Resources) -> str:
    parts = [
        f"{what} needs {wanted:g}, {left:g} free"
        for what, wanted, left in (
            ("cpu", need.cpu, free.cpu),
            ("memory_mb", need.memory_mb, free.memory_mb),
            ("disk_gb", need.disk_gb, free.disk_gb),
        )
        if wanted > left
    ]
    return "; ".join(parts)


def allocate_host_ports(session: Session, template: Template, instance: Instance, server: Server) -> None:
    """Give the instance one port per declared host port, unique on the server for that protocol."""
    # Ports of removed instances go back to the pool; the unique constraint settles a race.
    removed = select(Instance.id).where(Instance.state == InstanceState.REMOVED)
    for stale in session.scalars(
        select(PortAllocation).where(
            PortAllocation.server_id == server.id, PortAllocation.instance_id.in_(removed)
        )
    ):
        session.delete(stale)
    session.flush()
    for declared in template.host_ports:
        taken = set(
            session.scalars(
                select(PortAllocation.port).where(
                    PortAllocation.server_id == server.id, PortAllocation.protocol == declared.protocol
                )
            )
        )
        port = next((p for p in HOST_PORT_RANGE if p not in taken), None)
        if port is None:
            raise Conflict(f"server {server.name} has no free {declared.protocol} port left")
        instance.host_ports.append(
            PortAllocation(server_id=server.id, name=declared.name, protocol=declared.protocol, port=port)
        )
        session.flush()
