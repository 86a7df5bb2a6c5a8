"""Making a server ready (again) as a job: Docker where missing, restic, git and the reverse proxy, the
steps shown live on the job's page. Safe to run again on a server that is ready already."""

from __future__ import annotations

from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor
from provisioner.jobs.service import create_server_job
from provisioner.jobs.states import JobKind
from provisioner.models import Job
from provisioner.servers.service import get_server


def bootstrap_server(session: Session, *, actor: Actor, server_id: str) -> Job:
    """A queued bootstrap job of the server (operators); ``Conflict`` while one is under way."""
    actor.require_operator()
    server = get_server(session, actor=actor, server_id=server_id)
    return create_server_job(session, server=server, kind=JobKind.BOOTSTRAP, requested_by=actor.principal)
