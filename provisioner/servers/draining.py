"""Emptying a server: it takes no new instances, and each of its instances moves to another server."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor
from provisioner.catalog.loader import Catalog
from provisioner.errors import Conflict
from provisioner.instances.operations import DEPLOYED, move_instance
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.models import Instance, Job, Server
from provisioner.servers.service import get_server


def drain_server(
    session: Session, *, actor: Actor, catalog: Catalog, server_id: str
) -> tuple[Server, list[Job]]:
    """Mark the server draining and queue one move job per deployed instance on it.

    All or nothing: when one instance fits on no other server, nothing is queued and the 409 names it;
    the operator adds room (or a server) and asks again. Instances with a move queued already keep it."""
    server = get_server(session, actor=actor, server_id=server_id)
    server.draining = True
    session.flush()
    moving = select(Job.instance_id).where(
        Job.kind == JobKind.MOVE.value, Job.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value])
    )
    instances = session.scalars(
        select(Instance)
        .where(
            Instance.server_id == server.id,
            Instance.state.in_([s.value for s in DEPLOYED]),
            Instance.id.not_in(moving),
        )
        .order_by(Instance.created_at)
    ).unique()
    jobs = []
    for instance in instances:
        try:
            jobs.append(move_instance(session, actor=actor, catalog=catalog, instance_id=instance.id))
        except Conflict as exc:
            raise Conflict(
                f"instance {instance.name} ({instance.id}) fits on no other server: {exc.detail}"
            ) from exc
        session.flush()
    return server, jobs
