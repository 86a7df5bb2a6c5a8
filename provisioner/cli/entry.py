"""The ``provisioner`` command's entry point: what goes wrong in a way an operator can fix ends with one
line on standard error and a non-zero exit code, not a traceback."""

from __future__ import annotations

import typer
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError

from provisioner.errors import DomainError

# Click's own code for a usage error; a refused request is one of those from the operator's side.
EXIT_REFUSED = 2
EXIT_BROKEN = 1


def _settings_problem(exc: ValidationError) -> str:
    fields = "; ".join(
        f"PROVISIONER_{'_'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
        if error["loc"]
        else str(error["msg"])
        for error in exc.errors()
    )
    return f"the settings are not valid: {fields}"


def main() -> None:
    try:
        # Inside: importing the commands reads the settings (the Celery app is made from them).
        from provisioner.cli.main import app  # noqa: PLC0415

        app(prog_name="provisioner")
    except DomainError as exc:
        typer.echo(f"provisioner: {exc.detail}", err=True)
        raise SystemExit(EXIT_REFUSED) from None
    except ValidationError as exc:
        if exc.title != "Settings":
            raise
        typer.echo(f"provisioner: {_settings_problem(exc)}", err=True)
        raise SystemExit(EXIT_REFUSED) from None
    except OperationalError as exc:
        # The driver's first line says what failed (refused, no such file, bad password) without the URL,
        # which may hold the database password.
        reason = str(exc.orig).splitlines()[0] if exc.orig is not None else type(exc).__name__
        typer.echo(f"provisioner: the database cannot be used: {reason}", err=True)
        raise SystemExit(EXIT_BROKEN) from None
