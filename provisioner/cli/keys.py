"""``provisioner keys``: rotating the secret key that encrypts values in the database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from provisioner.audit.log import record_cli
from provisioner.cli.mail import read_secret
from provisioner.config import get_settings, read_key_file
from provisioner.db import transaction
from provisioner.keys import rotate_keys

app = typer.Typer(no_args_is_help=True, help="The secret key of the database's encrypted values.")


@app.command("rotate")
def rotate(
    new_key_file: Annotated[
        Path | None, typer.Option(help="file holding the new key; without it, the key is read from stdin")
    ] = None,
) -> None:
    """Re-encrypt every encrypted value with a new key, in one transaction.

    Then start every process with the new key (PROVISIONER_SECRET_KEY_FILE) and, until all run with it,
    the old one as PROVISIONER_SECRET_KEY_PREVIOUS.
    """
    settings = get_settings()
    try:
        if new_key_file is not None:
            new_key = read_key_file(new_key_file, forbidden=settings.backed_up_folders())
        else:
            new_key = read_secret("New secret key").strip()
        with transaction(settings.resolved_database_url) as session:
            result = rotate_keys(session, settings, new_key=new_key)
            record_cli(session, "rotate_keys")
    except ValueError as exc:
        typer.echo(f"nothing was changed: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"re-encrypted {result.values} values in {result.columns} columns with the new key")
