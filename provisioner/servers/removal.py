"""Taking a server out of the lab once nothing lives on it any more."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor
from provisioner.errors import Conflict
from provisioner.instances.states import InstanceState
from provisioner.jobs.states import FINISHED
from provisioner.models import Instance, Job, PortAllocation, Server
from provisioner.servers.service import get_server

GONE = (InstanceState.REMOVED.value, InstanceState.REJECTED.value)


def remove_server(session: Session, *, actor: Actor, server_id: str) -> None:
    """Refused (409) while an instance that is not removed is placed on it or a job still moves one there.

    Removed instances keep their history; only the link to the server row goes."""
    server: Server = get_server(session, actor=actor, server_id=server_id)
    living = session.scalar(
        select(Instance.name).where(Instance.server_id == server.id, Instance.state.not_in(GONE)).limit(1)
    )
    if living is not None:
        raise Conflict(
            f"server {server.name} still holds instance {living}; drain it or remove its instances first"
        )
    unfinished = [status.value for status in FINISHED]
    moving = session.scalar(
        select(Job.id).where(Job.target_server_id == server.id, Job.status.not_in(unfinished)).limit(1)
    )
    if moving is not None:
        raise Conflict(f"job {moving} still moves an instance to server {server.name}")
    session.execute(delete(PortAllocation).where(PortAllocation.server_id == server.id))
    session.execute(update(Instance).where(Instance.server_id == server.id).values(server_id=None))
    session.execute(update(Job).where(Job.target_server_id == server.id).values(target_server_id=None))
    session.delete(server)
    session.flush()
