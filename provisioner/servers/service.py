from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor
from provisioner.catalog.loader import Catalog
from provisioner.errors import Conflict, InvalidInput, NotFound
from provisioner.instances.placement import used_capacity
from provisioner.models import Server
from provisioner.pagination import Page, paginate
from provisioner.servers.hostkeys import HostKeyScanError, parse_host_key, scan_host_key


def server_named(session: Session, name: str) -> str | None:
    """The id of the server called ``name``, if there is one."""
    return session.scalar(select(Server.id).where(Server.name == name))


def add_server(
    session: Session,
    *,
    actor: Actor,
    name: str,
    address: str,
    port: int,
    user: str,
    cpu: int,
    memory_mb: int,
    disk_gb: int,
    public_address: str | None = None,
    root_dir: str = "/srv/provisioner",
    host_key: str | None = None,
    connection: str = "ssh",
    scan_timeout: int = 10,
    base_domain: str | None = None,
    tls_mode: str | None = None,
) -> Server:
    actor.require_operator()
    if server_named(session, name) is not None:
        raise Conflict(f"a server called {name!r} exists already")
    if connection == "ssh":
        if host_key is None:
            try:
                host_key = scan_host_key(address, port, timeout=scan_timeout)
            except HostKeyScanError as exc:
                raise InvalidInput(
                    str(exc), errors=[{"field": "body.address", "message": "no SSH host key could be read"}]
                ) from exc
        else:
            host_key = parse_host_key(host_key)
    server = Server(
        name=name,
        address=address,
        port=port,
        user=user,
        connection=connection,
        public_address=public_address or address,
        root_dir=root_dir,
        host_key=host_key,
        cpu=cpu,
        memory_mb=memory_mb,
        disk_gb=disk_gb,
        base_domain=base_domain,
        tls_mode=tls_mode,
    )
    session.add(server)
    session.flush()
    return server


def get_server(session: Session, *, actor: Actor, server_id: str) -> Server:
    actor.require_operator()
    server = session.get(Server, server_id)
    if server is None:
        raise NotFound("server not found")
    return server


def list_servers(session: Session, *, actor: Actor, limit: int, cursor: str | None) -> Page[Server]:
    actor.require_operator()
    return paginate(session, select(Server), Server, limit=limit, cursor=cursor)


@dataclass(frozen=True)
class ServerChanges:
    """What an operator may change on a server; None leaves a field as it is."""

    cpu: int | None = None
    memory_mb: int | None = None
    disk_gb: int | None = None
    base_domain: str | None = None
    tls_mode: str | None = None
    draining: bool | None = None


def change_server(
    session: Session, *, actor: Actor, catalog: Catalog, server_id: str, changes: ServerChanges
) -> Server:
    """Capacity, domain, TLS and draining. A new domain or TLS mode applies to instances placed from
    now on (and to those moved here); instances already placed keep the address they were given."""
    server = get_server(session, actor=actor, server_id=server_id)
    cpu = server.cpu if changes.cpu is None else changes.cpu
    memory_mb = server.memory_mb if changes.memory_mb is None else changes.memory_mb
    disk_gb = server.disk_gb if changes.disk_gb is None else changes.disk_gb
    used = used_capacity(session, catalog, server)
    if cpu < used.cpu or memory_mb < used.memory_mb or disk_gb < used.disk_gb:
        raise Conflict(
            f"server {server.name} has instances that use more than that",
            errors=[
                {
                    "field": "body.capacity",
                    "message": f"at least cpu {used.cpu:g}, memory_mb {used.memory_mb}, "
                    f"disk_gb {used.disk_gb} are in use",
                }
            ],
        )
    server.cpu, server.memory_mb, server.disk_gb = cpu, memory_mb, disk_gb
    if changes.base_domain is not None:
        server.base_domain = changes.base_domain
    if changes.tls_mode is not None:
        server.tls_mode = changes.tls_mode
    if changes.draining is not None:
        server.draining = changes.draining
    session.flush()
    return server
