"""``provisioner db dump`` and ``provisioner db restore``: the control plane's own backup."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from provisioner.config import get_settings
from provisioner.dbdump.dump import DumpRefused, dump_database
from provisioner.dbdump.fileformat import DumpUnreadable
from provisioner.dbdump.restore import RestoreRefused, restore_database


def dump(
    file: Annotated[
        Path, typer.Argument(help="the dump to write (it must not exist); not beside the secret key")
    ],
) -> None:
    """Write every table of the database to FILE (gzip-compressed JSON lines, mode 0600).

    Encrypted values stay encrypted: a restore needs the lab's secret key, which must be kept
    elsewhere than the dump.
    """
    try:
        result = dump_database(get_settings(), path=file)
    except DumpRefused as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"dumped {result.rows} rows of {result.tables} tables to {file}")


def restore(
    file: Annotated[Path, typer.Argument(help="a dump written by 'provisioner db dump'")],
    replace: Annotated[
        bool, typer.Option("--replace", help="drop what the database holds in favour of the dump")
    ] = False,
) -> None:
    """Restore a dump into this install's database (SQLite or PostgreSQL, either kind from either).

    Checked before anything is written: the file is whole, the secret key opens every encrypted
    value, and the database is empty (or --replace is given). Then all rows go in one transaction.
    """
    try:
        result = restore_database(get_settings(), path=file, replace=replace)
    except (DumpUnreadable, RestoreRefused) as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"restored {result.rows} rows of {result.tables} tables (the dump came from {result.made_on})")
