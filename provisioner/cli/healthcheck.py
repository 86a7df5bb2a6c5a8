"""``provisioner healthcheck``: container health checks for the worker and the scheduler.

Compose (and any supervisor) runs these inside the container of the process they check. Each answers
with its exit code only: 0 healthy, 1 not.
"""

from __future__ import annotations

import socket
import time
from typing import Annotated

import typer

from provisioner.config import get_settings

app = typer.Typer(no_args_is_help=True, help="Health checks for the worker and scheduler containers.")

# Celery's persistent scheduler writes its file at most every 3 minutes (Scheduler.sync_every) while it
# sends tasks, and ours sends some every 10 seconds; three missed writes mean it is stuck.
BEAT_STALE_SECONDS = 3 * 180


@app.command()
def worker(
    timeout: Annotated[float, typer.Option(help="seconds to wait for the answer")] = 5.0,
) -> None:
    """Healthy when this machine's worker answers a ping through the broker."""
    from provisioner.worker.celery_app import app as celery

    # The worker's node name is Celery's default, celery@<hostname>, and a container has one worker.
    node = f"celery@{socket.gethostname()}"
    try:
        answers = celery.control.ping(destination=[node], timeout=timeout)
    except Exception as exc:
        # Any broker failure means unhealthy, said in one line rather than a traceback.
        typer.echo(f"unhealthy: the broker did not take the ping: {type(exc).__name__}", err=True)
        raise typer.Exit(1) from None
    if not any(node in answer for answer in answers):
        typer.echo(f"unhealthy: {node} did not answer within {timeout:g} s", err=True)
        raise typer.Exit(1)
    typer.echo(f"healthy: {node} answered")


@app.command()
def beat() -> None:
    """Healthy when the scheduler has written its schedule file recently."""
    data_dir = get_settings().data_dir
    # The file's suffix depends on which dbm module Python's shelve picked.
    written = [path.stat().st_mtime for path in data_dir.glob("beat-schedule*") if path.is_file()]
    if not written:
        typer.echo(f"unhealthy: no schedule file in {data_dir}", err=True)
        raise typer.Exit(1)
    age = time.time() - max(written)
    if age > BEAT_STALE_SECONDS:
        typer.echo(f"unhealthy: the schedule was last written {age:.0f} s ago", err=True)
        raise typer.Exit(1)
    typer.echo(f"healthy: the schedule was written {age:.0f} s ago")
