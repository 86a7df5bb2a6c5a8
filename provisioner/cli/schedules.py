"""``provisioner schedules``: recurring backups, drills, update windows and health checks."""

from __future__ import annotations

from typing import Annotated

import typer

from provisioner.catalog.loader import Catalog
from provisioner.cli.jobs import CONSOLE
from provisioner.cli.output import JsonOption, print_json
from provisioner.config import get_settings
from provisioner.db import transaction
from provisioner.errors import DomainError
from provisioner.models import Schedule
from provisioner.schedules import service
from provisioner.schedules.service import ScheduleKind

app = typer.Typer(no_args_is_help=True, help="Schedules: list, add, change, remove.")

CronOption = Annotated[
    str | None, typer.Option(help="five-field cron, in PROVISIONER_TIMEZONE, e.g. '0 3 * * *'")
]
IntervalOption = Annotated[int | None, typer.Option(help="or: every so many seconds")]


def _line(row: Schedule) -> str:
    target = f"instance {row.instance_id}" if row.instance_id else f"template {row.template}"
    timing = row.cron if row.cron else f"every {row.interval_seconds}s"
    state = "" if row.enabled else "  (paused)"
    when = f"{row.next_run_at:%Y-%m-%d %H:%M:%S}"
    return f"{row.id:<22} {row.kind:<7} {target:<32} {timing:<16} next {when}{state}"


def _fail(exc: DomainError) -> typer.Exit:
    typer.echo(f"error: {exc.detail}", err=True)
    return typer.Exit(1)


@app.command("list")
def list_schedules(
    instance: Annotated[str | None, typer.Option(help="only this instance's")] = None,
    as_json: JsonOption = False,
) -> None:
    """Every schedule, oldest first (times in UTC)."""
    with transaction(get_settings().resolved_database_url) as session:
        page = service.list_schedules(session, actor=CONSOLE, instance_id=instance, limit=500, cursor=None)
        if as_json:
            print_json(
                [
                    {
                        "id": row.id,
                        "kind": row.kind,
                        "instance": row.instance_id,
                        "template": row.template,
                        "cron": row.cron,
                        "interval_seconds": row.interval_seconds,
                        "enabled": row.enabled,
                        "next_run_at": row.next_run_at,
                    }
                    for row in page.items
                ]
            )
            return
        for row in page.items:
            typer.echo(_line(row))


@app.command("add")
def add(
    kind: ScheduleKind,
    instance: Annotated[str | None, typer.Option(help="for this instance")] = None,
    template: Annotated[str | None, typer.Option(help="or: default for this template's instances")] = None,
    cron: CronOption = None,
    interval: IntervalOption = None,
) -> None:
    """Add a schedule, e.g. ``provisioner schedules add backup --template nextcloud --cron '0 2 * * *'``."""
    settings = get_settings()
    try:
        with transaction(settings.resolved_database_url) as session:
            row = service.create_schedule(
                session,
                actor=CONSOLE,
                settings=settings,
                catalog=Catalog.from_dir(settings.resolved_templates_dir),
                kind=kind,
                instance_id=instance,
                template=template,
                cron=cron,
                interval_seconds=interval,
            )
            typer.echo(_line(row))
    except DomainError as exc:
        raise _fail(exc) from exc


@app.command("change")
def change(
    schedule_id: str,
    cron: CronOption = None,
    interval: IntervalOption = None,
    enabled: Annotated[bool | None, typer.Option("--enabled/--paused", help="run it, or pause it")] = None,
) -> None:
    """Give a schedule new timing, or pause and resume it."""
    settings = get_settings()
    timing: dict[str, str | int | None] = {}
    if cron is not None or interval is not None:
        timing = {"cron": cron, "interval_seconds": interval}
    try:
        with transaction(settings.resolved_database_url) as session:
            row = service.update_schedule(
                session, actor=CONSOLE, settings=settings, schedule_id=schedule_id, enabled=enabled, **timing
            )
            typer.echo(_line(row))
    except DomainError as exc:
        raise _fail(exc) from exc


@app.command("remove")
def remove(schedule_id: str) -> None:
    try:
        with transaction(get_settings().resolved_database_url) as session:
            service.delete_schedule(session, actor=CONSOLE, schedule_id=schedule_id)
    except DomainError as exc:
        raise _fail(exc) from exc
    typer.echo(f"removed {schedule_id}")
