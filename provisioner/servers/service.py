from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor
from provisioner.errors import Conflict, InvalidInput, NotFound
from provisioner.models import Server
from provisioner.pagination import Page, paginate
from provisioner.servers.hostkeys import HostKeyScanError, parse_host_key, scan_host_key


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
) -> Server:
    actor.require_operator()
    if session.scalar(select(Server.id).where(Server.name == name)) is not None:
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
