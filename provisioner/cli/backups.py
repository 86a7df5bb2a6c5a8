"""``provisioner backups``: backup targets, and backups or drills of one instance from the shell."""

from __future__ import annotations

import os
from typing import Annotated, Literal

import typer
from sqlalchemy import select

from provisioner.audit.log import record_cli
from provisioner.auth.actor import SYSTEM_ACTOR
from provisioner.backups import escrow, service, targets
from provisioner.backups.prune import prune_rest_targets
from provisioner.backups.repository import location
from provisioner.catalog.loader import Catalog
from provisioner.cli.output import JsonOption, print_json
from provisioner.config import Settings, get_settings
from provisioner.crypto import decrypt
from provisioner.db import transaction
from provisioner.errors import DomainError
from provisioner.jobs.queue import commit_and_send
from provisioner.models import BackupRepository, BackupTarget
from provisioner.worker.dispatch import CeleryDispatcher

app = typer.Typer(no_args_is_help=True, help="Backup targets, backups and restore drills.")


@app.command("add-target")
def add_target(
    name: str,
    *,
    path: Annotated[
        str,
        typer.Option(
            help="sftp: absolute folder on the backup server; s3: bucket, or bucket/prefix; "
            "rest: the folder the REST server serves (shown to operators)"
        ),
    ],
    kind: Annotated[str, typer.Option(help="sftp, s3 or rest")] = "sftp",
    address: Annotated[str | None, typer.Option(help="sftp: the backup server")] = None,
    port: Annotated[int, typer.Option(help="sftp: its SSH port")] = 22,
    user: Annotated[str | None, typer.Option(help="sftp: the user to log in as")] = None,
    host_key: Annotated[
        str | None, typer.Option(help="sftp: its host key line, 'ssh-ed25519 AAAA...'")
    ] = None,
    s3_endpoint: Annotated[str | None, typer.Option(help="s3: e.g. https://s3.example.org")] = None,
    rest_url: Annotated[
        str | None, typer.Option(help="rest: the append-only listener the servers reach")
    ] = None,
    rest_admin_url: Annotated[
        str | None, typer.Option(help="rest: the full-access listener only the control plane reaches")
    ] = None,
    htpasswd_file: Annotated[
        str | None,
        typer.Option(help="rest: the append-only listener's htpasswd file"),
    ] = None,
    rest_admin_user: Annotated[str | None, typer.Option(help="rest: the full-access listener's user")] = None,
    default: Annotated[bool, typer.Option(help="make it the target of new repositories")] = False,
) -> None:
    """Add a backup target; for SFTP, prints the public key to authorize on the backup server.

    S3 access keys are read from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, the REST server's
    full-access password from PROVISIONER_REST_ADMIN_PASSWORD, never from arguments.
    """
    kinds: dict[str, Literal["sftp", "s3", "rest"]] = {"sftp": "sftp", "s3": "s3", "rest": "rest"}
    if kind not in kinds:
        raise typer.BadParameter("sftp, s3 or rest", param_hint="--kind")
    chosen = kinds[kind]
    settings = get_settings()
    try:
        with transaction(settings.resolved_database_url) as session:
            target = targets.add_target(
                session,
                actor=SYSTEM_ACTOR,
                settings=settings,
                name=name,
                kind=chosen,
                path=path,
                address=address,
                port=port,
                user=user,
                host_key=host_key,
                s3_endpoint=s3_endpoint,
                s3_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID"),
                s3_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY"),
                rest_url=rest_url,
                rest_admin_url=rest_admin_url,
                htpasswd_file=htpasswd_file,
                rest_admin_user=rest_admin_user,
                rest_admin_password=os.environ.get("PROVISIONER_REST_ADMIN_PASSWORD"),
                default=default,
            )
            public_key, isolation = target.public_key, targets.ISOLATION[target.kind]
    except DomainError as exc:
        typer.echo(f"refused: {exc.detail}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"backup target {name} added: {isolation}")
    warn_without_recovery_key()
    if public_key:
        typer.echo(f"authorize this key on the backup server:\n{public_key}")


@app.command("remove-target")
def remove_target(name: str) -> None:
    """Remove a backup target that holds no association's repository, with the credentials the lab keeps
    for it; refused while one does. Nothing on the backup server or in the bucket is deleted."""
    settings = get_settings()
    with transaction(settings.resolved_database_url) as session:
        target = session.scalar(select(BackupTarget).where(BackupTarget.name == name))
        if target is None:
            raise typer.BadParameter(f"no backup target called {name!r}")
        targets.remove_target(session, actor=SYSTEM_ACTOR, target_id=target.id)
        record_cli(session, "remove_backup_target", target_id=target.id)
    typer.echo(f"backup target {name} removed")


@app.command("targets")
def list_targets(as_json: JsonOption = False) -> None:
    """The backup targets; the default one is marked with *."""
    settings = get_settings()
    warn_without_recovery_key()
    with transaction(settings.resolved_database_url) as session:
        rows = targets.list_targets(session, actor=SYSTEM_ACTOR)
        where = {
            target.id: {
                "sftp": f"{target.user}@{target.address}:{target.port}",
                "s3": target.s3_endpoint,
                "rest": target.rest_url,
            }[target.kind]
            for target in rows
        }
        if as_json:
            print_json(
                [
                    {
                        "id": target.id,
                        "name": target.name,
                        "kind": target.kind,
                        "address": where[target.id],
                        "path": target.path,
                        "default": target.is_default,
                    }
                    for target in rows
                ]
            )
            return
        for target in rows:
            mark = "*" if target.is_default else " "
            typer.echo(f"{mark} {target.name}  {target.kind}  {where[target.id]}  {target.path}")


def _request(instance_id: str, what: Literal["backup", "drill"]) -> None:
    settings = get_settings()
    try:
        with transaction(settings.resolved_database_url) as session:
            if what == "backup":
                catalog = Catalog.from_dir(settings.resolved_templates_dir)
                job = service.request_backup(
                    session, actor=SYSTEM_ACTOR, catalog=catalog, instance_id=instance_id
                )
            else:
                job = service.request_drill(session, actor=SYSTEM_ACTOR, instance_id=instance_id)
            job_id = job.id
            commit_and_send(session, CeleryDispatcher(settings.resolved_broker_url))
    except DomainError as exc:
        typer.echo(f"refused: {exc.detail}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(job_id)


@app.command("backup")
def backup(instance_id: str) -> None:
    """Queue a backup of an instance; prints the job id."""
    _request(instance_id, "backup")


@app.command("drill")
def drill(instance_id: str) -> None:
    """Queue a restore drill of an instance's latest backup; prints the job id."""
    _request(instance_id, "drill")


def warn_without_recovery_key() -> None:
    if not get_settings().recovery_recipients:
        typer.echo(f"WARNING: {escrow.NO_RECIPIENT_WARNING}", err=True)


def _copy_note(settings: Settings, row: BackupRepository) -> str:
    if not settings.recovery_recipients:
        return "none, no recovery key is set"
    if not escrow.can_hold_copy(row.target):
        return f"none, {row.target.kind} targets hold none yet"
    if row.escrowed_for == escrow.recipients_digest(settings):
        return f"{escrow.copy_path(row)} (age, for the recovery key)"
    return "not written yet; the next backup writes it"


@app.command("repository")
def repository(tenant_id: str) -> None:
    """Print a tenant's repository location and password, for restoring by hand with restic.

    Also says where the password's copy for the recovery key lies on the target, or that it has none.
    """
    settings = get_settings()
    warn_without_recovery_key()
    with transaction(settings.resolved_database_url) as session:
        found = session.scalars(select(BackupRepository).where(BackupRepository.tenant_id == tenant_id)).all()
        if not found:
            raise typer.BadParameter(f"tenant {tenant_id!r} has no backup repository")
        for row in found:
            typer.echo(f"{location(row)}\t{decrypt(settings, row.encrypted_password)}")
            typer.echo(f"  recovery copy: {_copy_note(settings, row)}", err=True)


@app.command("prune")
def prune() -> None:
    """Apply the keep rules on every REST target now (the scheduler does it daily, see the docs)."""
    report = prune_rest_targets(get_settings())
    for tenant_id in report.pruned:
        typer.echo(f"pruned {tenant_id}")
    for tenant_id, why in report.failed.items():
        typer.echo(f"failed {tenant_id}: {why}", err=True)
    if report.failed:
        raise typer.Exit(1)
