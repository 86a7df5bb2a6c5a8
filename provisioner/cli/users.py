"""``provisioner users``: the first operator's account, made on the machine before anyone can invite."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from provisioner.accounts.first_start import open_first_start_link
from provisioner.accounts.service import create_user
from provisioner.audit.log import record_cli
from provisioner.auth.actor import Role
from provisioner.config import get_settings
from provisioner.db import transaction
from provisioner.errors import DomainError
from provisioner.migrate import upgrade

app = typer.Typer(no_args_is_help=True, help="People who log in to the portal.")


def _read_password() -> str:
    if sys.stdin.isatty():
        password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        return password
    # Piped in: the first line, so the password never shows in the process list or shell history.
    return sys.stdin.readline().rstrip("\r\n")


@app.command("create")
def create(
    email: Annotated[str, typer.Option(help="the person's e-mail address; they log in with it")],
    operator: Annotated[bool, typer.Option("--operator", help="an operator of the lab")] = False,
    name: Annotated[str | None, typer.Option(help="how the portal names them (default: the e-mail)")] = None,
) -> None:
    """Create an operator account; the password is asked for on a terminal or read from stdin."""
    if not operator:
        raise typer.BadParameter("only --operator accounts are made here; others are invited from the portal")
    password = _read_password()
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    try:
        with transaction(settings.resolved_database_url) as session:
            user = create_user(
                session,
                email=email,
                name=name or email,
                password=password,
                role=Role.OPERATOR,
                tenant_id=None,
            )
            record_cli(session, "create_operator_user", target_id=user.id)
    except DomainError as exc:
        typer.echo(f"not created: {exc.detail}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(user.id)


@app.command("first-start-link")
def first_start_link() -> None:
    """Print the one-time link where the first operator sets a portal password (while there is none)."""
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    with transaction(settings.resolved_database_url) as session:
        link = open_first_start_link(session)
        if link is not None:
            record_cli(session, "open_first_start_link")
    if link is None:
        typer.echo(
            "the lab has an operator account already; operators invite others from the portal", err=True
        )
        raise typer.Exit(1)
    path, until = link
    base = settings.public_url or f"http://{settings.api_host}:{settings.api_port}"
    typer.echo(f"{base.rstrip('/')}{path}")
    typer.echo(f"(works once, until {until:%Y-%m-%d %H:%M} UTC)", err=True)
