"""``provisioner servers``: operator chores on servers."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import select

from provisioner.audit.log import record_cli
from provisioner.auth.actor import SYSTEM_ACTOR
from provisioner.config import get_settings
from provisioner.db import transaction
from provisioner.deployments.plan import bootstrap_run_spec
from provisioner.deployments.smoke import PrintingSink
from provisioner.models import Server
from provisioner.proxy.caddy import TlsMode
from provisioner.runner.adapter import run_playbook
from provisioner.servers.removal import remove_server

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
    """Make a server ready: Docker where it is missing, and its reverse proxy."""
    settings = get_settings()
    spec = bootstrap_run_spec(settings, find_server(name))
    outcome = run_playbook(spec, PrintingSink(typer.echo), work_root=settings.data_dir / "runs")
    if outcome.status != "successful":
        typer.echo(f"bootstrap of {name} failed: {outcome.error}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{name} is ready")


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
