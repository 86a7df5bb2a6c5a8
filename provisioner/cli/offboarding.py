"""``provisioner offboarding``: an association leaves (docs/offboarding.md). The operator's commands
call the same services as the API, as an operator: a start begins at once, with the slug typed again."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from provisioner.audit.log import record_cli
from provisioner.cli.jobs import CONSOLE
from provisioner.cli.output import JsonOption, print_json
from provisioner.config import get_settings
from provisioner.db import transaction
from provisioner.errors import NotFound
from provisioner.jobs.queue import commit_and_send
from provisioner.models import Job, Offboarding, Tenant
from provisioner.notices.certificate import certificate_values
from provisioner.notices.render import render
from provisioner.offboarding import service
from provisioner.worker.dispatch import CeleryDispatcher

app = typer.Typer(
    no_args_is_help=True,
    help="Offboard an association: start, show, cancel while it waits, resume, delete its backups now, "
    "and read the deletion records.",
)
TenantArgument = Annotated[str, typer.Argument(help="the association's id or slug")]


def _tenant_id(session: Session, tenant: str) -> str:
    """The id of the association named by id or slug, also once its row is gone (its record names it)."""
    found = session.scalar(select(Tenant.id).where(or_(Tenant.id == tenant, Tenant.slug == tenant)))
    if found is not None:
        return found
    query = select(Offboarding.tenant_id).where(
        or_(Offboarding.tenant_id == tenant, Offboarding.tenant_slug == tenant)
    )
    left = session.scalar(query.order_by(Offboarding.requested_at.desc()).limit(1))
    if left is None:
        raise NotFound(f"no association and no offboarding called {tenant!r}")
    return left


def _state(row: Offboarding, jobs: list[str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "tenant": row.tenant_id,
        "slug": row.tenant_slug,
        "state": row.state,
        "step": row.step,
        "error": row.error,
        "requested_by": row.requested_by,
        "requested_at": row.requested_at,
        "not_before": row.not_before,
        "delete_backups_now": row.delete_backups_now,
        "backups_due_at": row.backups_due_at,
        "completed_at": row.completed_at,
        "jobs": jobs,
    }


def _jobs(session: Session, row: Offboarding) -> list[str]:
    query = select(Job.id).where(Job.offboarding_id == row.id).order_by(Job.created_at, Job.id)
    return list(session.scalars(query))


def _print_state(row: Offboarding, jobs: list[str], as_json: bool) -> None:
    shown = _state(row, jobs)
    if as_json:
        print_json(shown)
        return
    shown["jobs"] = ", ".join(jobs) or "-"
    for key, value in shown.items():
        if value is not None:
            typer.echo(f"{key:<20}{value}")


def _changed(tenant: str, action: str, as_json: bool) -> None:
    """Run one of the service's changes as the console's operator, audit it, send its job."""
    settings = get_settings()
    with transaction(settings.resolved_database_url) as session:
        tenant_id = _tenant_id(session, tenant)
        if action == "cancel_offboarding":
            service.cancel_offboarding(session, actor=CONSOLE, tenant_id=tenant_id)
        elif action == "resume_offboarding":
            service.resume_offboarding(session, actor=CONSOLE, tenant_id=tenant_id)
        else:
            service.delete_backups_now(session, actor=CONSOLE, tenant_id=tenant_id)
        record_cli(session, action, target_id=tenant_id)
        commit_and_send(session, CeleryDispatcher(settings.resolved_broker_url))
        row = service.get_offboarding(session, actor=CONSOLE, tenant_id=tenant_id)
        _print_state(row, _jobs(session, row), as_json)


@app.command()
def start(
    tenant: TenantArgument,
    confirm: Annotated[
        str, typer.Option(help="the association's slug, typed again: everything it has is deleted")
    ],
    delete_backups_now: Annotated[
        bool, typer.Option(help="delete its backups with the rest instead of after the lab's retention")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Offboard an association now (refused while a job of it is under way); prints its state and job."""
    settings = get_settings()
    with transaction(settings.resolved_database_url) as session:
        tenant_id = _tenant_id(session, tenant)
        row = service.request_offboarding(
            session, settings, actor=CONSOLE, tenant_id=tenant_id, confirm_slug=confirm,
            delete_backups_now=delete_backups_now,
        )  # fmt: skip
        record_cli(session, "offboard_tenant", target_id=tenant_id)
        commit_and_send(session, CeleryDispatcher(settings.resolved_broker_url))
        _print_state(row, _jobs(session, row), as_json)


@app.command()
def show(tenant: TenantArgument, as_json: JsonOption = False) -> None:
    """The association's latest offboarding: state, the step it is at (or stopped at, and why), its jobs."""
    with transaction(get_settings().resolved_database_url) as session:
        row = service.get_offboarding(session, actor=CONSOLE, tenant_id=_tenant_id(session, tenant))
        _print_state(row, _jobs(session, row), as_json)


@app.command()
def cancel(tenant: TenantArgument, as_json: JsonOption = False) -> None:
    """Cancel an offboarding still in its waiting period; nothing was deleted."""
    _changed(tenant, "cancel_offboarding", as_json)


@app.command()
def resume(tenant: TenantArgument, as_json: JsonOption = False) -> None:
    """Carry a stopped offboarding on from the step it stopped at."""
    _changed(tenant, "resume_offboarding", as_json)


@app.command("delete-backups-now")
def delete_backups_now(tenant: TenantArgument, as_json: JsonOption = False) -> None:
    """Delete the association's backups now instead of after the lab's retention."""
    _changed(tenant, "delete_offboarded_backups_now", as_json)


@app.command()
def record(
    tenant: TenantArgument,
    language: Annotated[str, typer.Option(help="en or de: the certificate's language")] = "en",
    as_json: JsonOption = False,
) -> None:
    """The deletion record of an offboarded association, as the certificate its contact received."""
    with transaction(get_settings().resolved_database_url) as session:
        row = service.deletion_record(session, actor=CONSOLE, tenant_id=_tenant_id(session, tenant))
        values = certificate_values(row)
        document = {
            "id": row.id, "tenant": row.tenant_id, "slug": row.tenant_slug, "name": row.tenant_name,
            "requested_by": row.requested_by, "requested_at": row.requested_at,
            "completed_at": row.completed_at, **row.deleted,
        }  # fmt: skip
    if as_json:
        print_json(document)
        return
    certificate = render("deletion_record", language=language, values=values)
    typer.echo(certificate.subject)
    typer.echo()
    typer.echo(certificate.text, nl=False)


@app.command("records")
def records(as_json: JsonOption = False) -> None:
    """Every offboarded association's deletion record, the latest first."""
    with transaction(get_settings().resolved_database_url) as session:
        rows = service.deletion_records(session, actor=CONSOLE)
        listed = [
            {"id": r.id, "tenant": r.tenant_id, "slug": r.tenant_slug, "name": r.tenant_name,
             "completed_at": r.completed_at}
            for r in rows
        ]  # fmt: skip
    if as_json:
        print_json(listed)
        return
    for item in listed:
        typer.echo(
            f"{item['completed_at']:%Y-%m-%d %H:%M}  {item['tenant']:<22} {item['slug']:<24} {item['name']}"
        )
