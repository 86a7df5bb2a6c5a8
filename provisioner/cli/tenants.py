"""``provisioner tenants``: the associations the lab serves."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import ValidationError
from sqlalchemy import select

from provisioner.audit.log import record_cli
from provisioner.cli.jobs import CONSOLE
from provisioner.cli.output import JsonOption, print_json
from provisioner.config import get_settings
from provisioner.db import transaction
from provisioner.errors import InvalidInput
from provisioner.models import Tenant
from provisioner.tenants import service
from provisioner.tenants.rules import NewTenant

app = typer.Typer(no_args_is_help=True, help="Associations: list, show, create.")


def _record(tenant: Tenant) -> dict[str, Any]:
    return {
        "id": tenant.id,
        "slug": tenant.slug,
        "name": tenant.name,
        "contact_email": tenant.contact_email,
        "created_at": tenant.created_at,
        # None: the lab's default quota (PROVISIONER_QUOTA_*) applies.
        "quota": {
            "instances": tenant.quota_instances,
            "memory_mb": tenant.quota_memory_mb,
            "disk_gb": tenant.quota_disk_gb,
        },
    }


def _line(tenant: Tenant) -> str:
    return f"{tenant.id:<22} {tenant.slug:<24} {tenant.name}"


@app.command("list")
def list_tenants(as_json: JsonOption = False) -> None:
    """Every association, oldest first."""
    with transaction(get_settings().resolved_database_url) as session:
        tenants = list(session.scalars(select(Tenant).order_by(Tenant.created_at, Tenant.id)))
        if as_json:
            print_json([_record(tenant) for tenant in tenants])
            return
        for tenant in tenants:
            typer.echo(_line(tenant))


@app.command()
def show(
    tenant: Annotated[str, typer.Argument(help="the association's id or slug")], as_json: JsonOption = False
) -> None:
    """One association with its quota."""
    with transaction(get_settings().resolved_database_url) as session:
        found = session.scalar(select(Tenant.id).where((Tenant.id == tenant) | (Tenant.slug == tenant)))
        # Unknown ids end in the service's own "not found".
        row = service.get_tenant(session, actor=CONSOLE, tenant_id=found or tenant)
        record = _record(row)
        if as_json:
            print_json(record)
            return
        for key in ("id", "slug", "name", "contact_email", "created_at"):
            typer.echo(f"{key:<14}{record[key]}")
        quota = ", ".join(f"{k} {'default' if v is None else v}" for k, v in record["quota"].items())
        typer.echo(f"{'quota':<14}{quota}")


@app.command()
def create(
    slug: Annotated[str, typer.Option(help="short name in addresses: lower-case letters, digits, hyphens")],
    name: Annotated[str, typer.Option(help="the association's full name")],
    contact_email: Annotated[str, typer.Option(help="where the lab writes to the association")],
    as_json: JsonOption = False,
) -> None:
    """Create an association; invite its admin in the portal or with the API afterwards."""
    try:
        wanted = NewTenant(slug=slug, name=name, contact_email=contact_email)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise InvalidInput(f"--{str(error['loc'][0]).replace('_', '-')}: {error['msg']}") from None
    with transaction(get_settings().resolved_database_url) as session:
        tenant = service.create_tenant(session, actor=CONSOLE, **wanted.model_dump())
        record_cli(session, "create_tenant", target_id=tenant.id)
        record = _record(tenant)
    if as_json:
        print_json(record)
    else:
        typer.echo(f"created {record['id']} ({record['slug']})")
