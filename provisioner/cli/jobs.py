"""``provisioner jobs``: the operator's view of the job table, straight from the database."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from typing import Annotated, Any

import typer

from provisioner.auth.actor import Actor, Role
from provisioner.cli.output import JsonOption, print_json
from provisioner.config import get_settings
from provisioner.db import session_factory, transaction
from provisioner.instances.operations import cancel_job
from provisioner.jobs import service
from provisioner.jobs.states import FINISHED, JobStatus
from provisioner.models import Job

app = typer.Typer(no_args_is_help=True, help="Jobs: list, show, follow live, cancel.")

CONSOLE = Actor(token_id="console", role=Role.OPERATOR, tenant_id=None)  # noqa: S106 - a name, no secret


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _duration(job: Job) -> str:
    if job.started_at is None:
        return "-"
    end = job.finished_at or datetime.now(job.started_at.tzinfo)
    return f"{(end - job.started_at).total_seconds():.0f}s"


def _record(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "instance": job.instance_id,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "worker": job.worker,
        "error": job.error,
    }


@app.command("list")
def list_jobs(
    status: Annotated[JobStatus | None, typer.Option(help="only jobs in this status")] = None,
    instance: Annotated[str | None, typer.Option(help="only jobs of this instance")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: JsonOption = False,
) -> None:
    """The newest jobs first."""
    with session_factory(get_settings().resolved_database_url)() as session:
        jobs = service.recent_jobs(session, instance_id=instance, status=status, limit=limit)
        if as_json:
            print_json([_record(job) for job in jobs])
            return
        typer.echo(
            f"{'JOB':<22} {'KIND':<7} {'STATUS':<10} {'INSTANCE':<22} {'CREATED':<19} {'TOOK':>6}  ERROR"
        )
        for job in jobs:
            typer.echo(
                f"{job.id:<22} {job.kind:<7} {job.status:<10} {job.instance_id:<22} "
                f"{_when(job.created_at):<19} {_duration(job):>6}  {(job.error or '')[:60]}"
            )


@app.command()
def show(job_id: str, as_json: JsonOption = False) -> None:
    """One job with every step it took."""
    with session_factory(get_settings().resolved_database_url)() as session:
        job = service.get_job(session, actor=CONSOLE, job_id=job_id)
        events = service.list_events(session, actor=CONSOLE, job_id=job_id)
        if as_json:
            steps = [
                {
                    "seq": event.seq,
                    "at": event.created_at,
                    "task": event.task,
                    "status": event.status,
                    "line": event.line,
                }
                for event in events
            ]
            print_json(_record(job) | {"steps": steps})
            return
        typer.echo(f"job       {job.id} ({job.kind})\nstatus    {job.status}\ninstance  {job.instance_id}")
        typer.echo(f"created   {_when(job.created_at)}\nstarted   {_when(job.started_at)}")
        typer.echo(f"finished  {_when(job.finished_at)}\nworker    {job.worker or '-'}")
        if job.error:
            typer.echo(f"error     {job.error}")
        for event in events:
            if event.line:
                typer.echo(f"  {event.seq:>4} {_when(event.created_at)} {event.line}")


@app.command()
def tail(job_id: str, poll: Annotated[float, typer.Option(help="seconds between looks")] = 0.5) -> None:
    """Follow a job live until it ends; the exit code says whether it succeeded."""
    url = get_settings().resolved_database_url
    after, steps, started = 0, 0, time.monotonic()
    live = sys.stdout.isatty()
    while True:
        with session_factory(url)() as session:
            events = service.list_events(session, actor=CONSOLE, job_id=job_id, after=after)
            job = service.get_job(session, actor=CONSOLE, job_id=job_id)
            for event in events:
                after = event.seq
                if event.line.startswith("Step: "):
                    steps += 1
                if event.line:
                    if live:
                        typer.echo("\r\033[K", nl=False)
                    typer.echo(f"{_when(event.created_at)} {event.line}")
            status, error = job.status, job.error
        if status in FINISHED and not events:
            break
        if live:
            typer.echo(f"\r\033[K… {status}, {steps} steps, {time.monotonic() - started:.0f}s", nl=False)
        time.sleep(poll)
    if live:
        typer.echo("\r\033[K", nl=False)
    typer.echo(f"job {job_id} {status}" + (f": {error}" if error else ""))
    raise typer.Exit(0 if status == JobStatus.SUCCEEDED else 1)


@app.command()
def cancel(job_id: str) -> None:
    """Cancel a queued job at once, or ask the worker of a running one to stop it."""
    with transaction(get_settings().resolved_database_url) as session:
        job = cancel_job(session, actor=CONSOLE, job_id=job_id)
        typer.echo(
            f"job {job.id} {job.status}"
            + (" (the worker stops it within seconds)" if job.status == "running" else "")
        )
