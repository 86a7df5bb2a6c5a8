"""Asking for backups, restores and drills, and reading them back. Long work becomes a job.

``request_backup`` and ``request_drill`` are what scheduled work calls, with ``SYSTEM_ACTOR``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor
from provisioner.backups.clones import new_instance_like
from provisioner.backups.targets import default_target
from provisioner.catalog.loader import Catalog
from provisioner.config import Settings, get_settings
from provisioner.errors import Conflict, InvalidInput, NotFound
from provisioner.instances.credentials import renew_shown_secrets
from provisioner.instances.service import get_instance, restore_job
from provisioner.instances.states import InstanceState
from provisioner.jobs.service import create_job
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.models import Backup, BackupRestore, DrillResult, Instance, Job, SpaceBackup
from provisioner.tenants.quotas import check_quota, hold_tenant
from provisioner.timeutil import utcnow

S = InstanceState
_ACTIVE = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


def _writable(session: Session, actor: Actor, instance_id: str) -> Instance:
    instance = get_instance(session, actor=actor, instance_id=instance_id)
    actor.require_write(instance.tenant_id, "instance")
    pending_removal = select(Job.id).where(
        Job.instance_id == instance.id, Job.kind == JobKind.REMOVE.value, Job.status.in_(_ACTIVE)
    )
    if instance.state == S.REMOVED or session.scalar(pending_removal.limit(1)) is not None:
        raise Conflict("the instance is removed or about to be")
    return instance


def _deployed(instance: Instance, what: str) -> None:
    if instance.state not in (S.RUNNING, S.BACKING_UP, S.RESTORING, S.UPDATING, S.FAILED):
        raise Conflict(f"the instance is {instance.state}; only a deployed instance can have {what}")


def request_backup(
    session: Session, *, actor: Actor, instance_id: str, catalog: Catalog | None = None
) -> Job:
    instance = _writable(session, actor, instance_id)
    _deployed(instance, "a backup")
    catalog = catalog or Catalog.from_dir(get_settings().resolved_templates_dir)
    if not catalog.get(instance.template).keeps_data:
        raise Conflict(f"the {instance.template} service keeps no data to back up")
    default_target(session)
    return create_job(session, instance=instance, kind=JobKind.BACKUP, requested_by=actor.principal)


def list_backups(session: Session, *, actor: Actor, instance_id: str) -> Sequence[Backup]:
    instance = get_instance(session, actor=actor, instance_id=instance_id)
    query = select(Backup).where(Backup.instance_id == instance.id)
    return session.scalars(query.order_by(Backup.created_at.desc(), Backup.id.desc())).unique().all()


def _backup_of(session: Session, instance: Instance, backup_id: str) -> Backup:
    backup = session.get(Backup, backup_id)
    check_restorable(backup, ours=backup is not None and backup.instance_id == instance.id, owner="instance")
    assert backup is not None  # noqa: S101 - checked above
    return backup


def check_restorable(backup: Backup | SpaceBackup | None, *, ours: bool, owner: str) -> None:
    """A backup named in a restore request: of this ``owner`` (an instance, a space), and succeeded."""
    if backup is None or not ours:
        raise InvalidInput(
            f"no such backup of this {owner}",
            errors=[{"field": "body.backup", "message": f"a backup id from this {owner}'s list"}],
        )
    if backup.status != "succeeded":
        raise Conflict(f"that backup {backup.status}; only a succeeded backup can be restored")


@dataclass(frozen=True)
class RestoreAccepted:
    """The instance the backup goes into, and the restore job; no job while a copy waits for approval."""

    instance: Instance
    job: Job | None


def request_restore(
    session: Session,
    *,
    actor: Actor,
    catalog: Catalog,
    instance_id: str,
    backup_id: str,
    into: Literal["place", "new"] = "place",
    name: str | None = None,
    subdomain: str | None = None,
    settings: Settings | None = None,
) -> RestoreAccepted:
    """Put a backup back into its instance, or (``into="new"``) into a new instance of the same tenant.

    A copy is one more instance of the association: it counts against the quota, and one an
    association asks for waits for an operator's approval like any request (approving it restores the
    backup into it); an operator's own copy starts at once."""
    instance = _writable(session, actor, instance_id)
    backup = _backup_of(session, instance, backup_id)
    if into == "place":
        _deployed(instance, "a restore")
        job = restore_job(session, instance=instance, backup_id=backup.id, requested_by=actor.principal)
        return RestoreAccepted(instance=instance, job=job)
    if not name:
        raise InvalidInput(
            "a restore into a new instance needs its name",
            errors=[{"field": "body.name", "message": "required when into is 'new'"}],
        )
    chosen = subdomain or f"{name}-{instance.tenant.slug}"[:63].rstrip("-")
    settings = settings or get_settings()
    hold_tenant(session, tenant_id=instance.tenant_id)
    check_quota(session, catalog, settings, tenant=instance.tenant, template=instance.template)
    copy = new_instance_like(
        session, settings, catalog, instance, name=name, subdomain=chosen, approved=actor.is_operator
    )
    template = catalog.get(instance.template)
    if template.hooks.reset_credentials is not None:
        # The restored data knows the original's admin password; the copy's admin gets one of its own,
        # placed by the copy's deploy and made the valid one by the template's reset steps after the restore.
        renew_shown_secrets(settings, copy, template)
    if not actor.is_operator:
        copy.copy_of_backup_id = backup.id
        session.flush()
        return RestoreAccepted(instance=copy, job=None)
    job = restore_job(session, instance=copy, backup_id=backup.id, requested_by=actor.principal)
    return RestoreAccepted(instance=copy, job=job)


def restore_of(session: Session, *, job_id: str) -> Backup:
    """The backup a restore job puts back."""
    found = session.get(BackupRestore, job_id)
    if found is None:
        raise NotFound("the restore job names no backup")
    return found.backup


def latest_backup(session: Session, *, instance_id: str) -> Backup | None:
    query = select(Backup).where(Backup.instance_id == instance_id, Backup.status == "succeeded")
    return session.scalars(query.order_by(Backup.created_at.desc()).limit(1)).unique().first()


def request_drill(session: Session, *, actor: Actor, instance_id: str) -> Job:
    instance = _writable(session, actor, instance_id)
    if latest_backup(session, instance_id=instance.id) is None:
        raise Conflict("the instance has no succeeded backup to drill with")
    return create_job(session, instance=instance, kind=JobKind.DRILL, requested_by=actor.principal)


def throwaway_name() -> str:
    return f"drill-{secrets.token_hex(4)}"


def make_throwaway(session: Session, settings: Settings, catalog: Catalog, source: Instance) -> Instance:
    name = throwaway_name()
    return new_instance_like(session, settings, catalog, source, name=name, subdomain=name)


def list_drills(
    session: Session, *, actor: Actor, instance_id: str | None, failed: bool | None, limit: int = 100
) -> Sequence[DrillResult]:
    query = select(DrillResult).join(Instance, Instance.id == DrillResult.instance_id)
    if not actor.is_operator:
        query = query.where(Instance.tenant_id == actor.tenant_id)
    if instance_id is not None:
        query = query.where(
            DrillResult.instance_id == get_instance(session, actor=actor, instance_id=instance_id).id
        )
    if failed is not None:
        query = query.where(DrillResult.status == "failed" if failed else DrillResult.status == "passed")
    return session.scalars(query.order_by(DrillResult.created_at.desc()).limit(limit)).all()


@dataclass(frozen=True)
class BackupStatus:
    last_backup_at: datetime | None
    last_backup_status: str | None
    last_drill_at: datetime | None
    last_drill_status: str | None
    # Why the instance needs attention, or None: a failed backup or drill, or a drill too old.
    flag: str | None


def _status_of(settings: Settings, backup: Backup | None, drill: DrillResult | None) -> BackupStatus:
    flag = None
    if backup is not None and backup.status == "failed":
        flag = "the last backup failed"
    elif drill is not None and drill.status == "failed":
        flag = "the last restore drill failed"
    elif backup is not None and (
        drill is None or drill.created_at < utcnow() - timedelta(days=settings.drill_max_age_days)
    ):
        flag = f"no restore drill in the last {settings.drill_max_age_days} days"
    return BackupStatus(
        last_backup_at=backup.created_at if backup else None,
        last_backup_status=backup.status if backup else None,
        last_drill_at=drill.created_at if drill else None,
        last_drill_status=drill.status if drill else None,
        flag=flag,
    )


def backup_status(session: Session, settings: Settings, *, instance_id: str) -> BackupStatus:
    return backup_statuses(session, settings, instance_ids=[instance_id])[instance_id]


def _latest(
    session: Session, model: type[Backup] | type[DrillResult], instance_ids: list[str]
) -> dict[str, Any]:
    """Each instance's newest row of ``model`` (finished drills only), in one query for a whole list."""
    wanted: list[ColumnElement[bool]] = [model.instance_id.in_(instance_ids)]
    if model is DrillResult:
        wanted.append(DrillResult.status != "running")
    newest = (
        select(model.instance_id, func.max(model.created_at).label("at"))
        .where(*wanted)
        .group_by(model.instance_id)
        .subquery()
    )
    rows: Iterable[Any] = session.scalars(
        select(model)
        .join(newest, (model.instance_id == newest.c.instance_id) & (model.created_at == newest.c.at))
        .where(*wanted)
    ).unique()
    return {row.instance_id: row for row in rows}


def backup_statuses(
    session: Session, settings: Settings, *, instance_ids: list[str]
) -> dict[str, BackupStatus]:
    """The backup status of many instances at once (a list page), without a query per instance."""
    backups = _latest(session, Backup, instance_ids)
    drills = _latest(session, DrillResult, instance_ids)
    return {i: _status_of(settings, backups.get(i), drills.get(i)) for i in instance_ids}
