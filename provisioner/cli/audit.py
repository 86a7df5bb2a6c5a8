"""``provisioner audit``: the audit log for the lab's operators, straight from the database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from provisioner.audit.export import csv_lines
from provisioner.audit.log import export_query
from provisioner.auth.actor import Actor, Role
from provisioner.config import get_settings
from provisioner.db import session_factory

app = typer.Typer(no_args_is_help=True, help="The audit log of every change.")

READER = Actor(token_id="cli", role=Role.OPERATOR, tenant_id=None)  # noqa: S106 - a name, no secret


@app.command("export")
def export(
    tenant: Annotated[str | None, typer.Option(help="only this tenant's entries")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write here, not to stdout")] = None,
) -> None:
    """Write the audit log as CSV (oldest first), safe to open in a spreadsheet."""
    settings = get_settings()
    with session_factory(settings.resolved_database_url)() as session:
        lines = csv_lines(session.scalars(export_query(READER, tenant)))
        if output is None:
            for line in lines:
                typer.echo(line, nl=False)
            return
        with output.open("w", encoding="utf-8", newline="") as target:
            target.writelines(lines)
