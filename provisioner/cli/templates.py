"""``provisioner templates``: check the catalog, and smoke-test a template on a real server."""

from __future__ import annotations

from typing import Annotated

import typer

from provisioner.config import get_settings
from provisioner.deployments.check import check_all

app = typer.Typer(no_args_is_help=True, help="Service templates (the catalog).")


@app.command("check")
def check(
    name: Annotated[str | None, typer.Argument(help="one template; all when left out")] = None,
    lint: Annotated[bool, typer.Option(help="also run ansible-lint over the playbooks")] = True,
) -> None:
    """Validate every template folder: format, rendering, compose config, playbooks, ansible-lint."""
    report = check_all(get_settings(), only=name, lint=lint)
    for checked in report.checked:
        problems = report.problems.get(checked, [])
        typer.echo(f"{'FAIL' if problems else 'ok  '} {checked}")
        for problem in problems:
            typer.echo(f"     {problem}")
    if not report.ok:
        raise typer.Exit(1)
