"""``provisioner servers``: operator chores on servers."""

from __future__ import annotations

import socket
from typing import Annotated

import typer
from sqlalchemy import select

from provisioner.audit.log import record_cli
from provisioner.auth.actor import SYSTEM_ACTOR
from provisioner.config import get_settings
from provisioner.db import transaction
from provisioner.engine.execute import execute_job
from provisioner.engine.wiring import real_context
from provisioner.errors import DomainError
from provisioner.jobs.service import list_events
from provisioner.jobs.states import JobStatus
from provisioner.models import Job, Server
from provisioner.proxy.caddy import TlsMode
from provisioner.servers.bootstrap import bootstrap_server
from provisioner.servers.removal import remove_server
from provisioner.timeutil import utcnow

app = typer.Typer(no_args_is_help=True, help="Servers instances run on.")


def find_server(name: str) -> Server:
    settings = get_settings()
    with transaction(settings.resolved_database_url) as session:
        server = session.scalar(select(Server).where(Server.name == name))
        if server is None:
            raise typer.BadParameter(f"no server called {name!r}")
        session.expunge(server)
        return server


@app.command("configure")
def configure(
    name: str,
    base_domain: Annotated[str | None, typer.Option(help="instances get <subdomain>.<this>")] = None,
    tls: Annotated[TlsMode | None, typer.Option(help="acme, internal or off")] = None,
) -> None:
    """Give a server its own base domain or TLS mode (instead of the lab's settings)."""
    settings = get_settings()
    with transaction(settings.resolved_database_url) as session:
        server = session.scalar(select(Server).where(Server.name == name))
        if server is None:
            raise typer.BadParameter(f"no server called {name!r}")
        if base_domain is not None:
            server.base_domain = base_domain
        if tls is not None:
            server.tls_mode = tls.value
        record_cli(session, "configure_server", target_id=server.id)
    typer.echo(f"{name}: base domain {base_domain or 'unchanged'}, TLS {tls.value if tls else 'unchanged'}")


@app.command("bootstrap")
def bootstrap(name: str) -> None:
    """Make a server ready: Docker where missing, restic, git and its reverse proxy. Runs here, now, as
    a job of the server (the same the portal's button starts), so it is in the job list with its steps."""
    settings = get_settings()
    server = find_server(name)
    url = settings.resolved_database_url
    with transaction(url) as session:
        try:
            job = bootstrap_server(session, actor=SYSTEM_ACTOR, server_id=server.id)
        except DomainError as exc:
            typer.echo(f"error: {exc.detail}", err=True)
            raise typer.Exit(1) from exc
        # This command runs the job itself: no worker is sent it, and the redispatch loop leaves it be.
        job.dispatched_at = utcnow()
        record_cli(session, "bootstrap_server", target_id=server.id)
        job_id = job.id
    execute_job(real_context(settings), job_id, worker=f"cli@{socket.gethostname()}")
    with transaction(url) as session:
        for event in list_events(session, actor=SYSTEM_ACTOR, job_id=job_id):
            typer.echo(event.line)
        done = session.get_one(Job, job_id)
        if done.status != JobStatus.SUCCEEDED:
            typer.echo(f"bootstrap of {name} {done.status}: {done.error} (job {job_id})", err=True)
            raise typer.Exit(1)
    typer.echo(f"{name} is ready (job {job_id})")


@app.command("remove")
def remove(name: str) -> None:
    """Remove a server no instance lives on, with its pinned host key and its proxy's CA; refused while
    one does or is being moved to it. Nothing on the server itself is deleted."""
    settings = get_settings()
    with transaction(settings.resolved_database_url) as session:
        server = session.scalar(select(Server).where(Server.name == name))
        if server is None:
            raise typer.BadParameter(f"no server called {name!r}")
        remove_server(session, actor=SYSTEM_ACTOR, server_id=server.id)
        record_cli(session, "remove_server", target_id=server.id)
    typer.echo(f"server {name} removed")
