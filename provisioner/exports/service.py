"""Asking for an export of a service, reading it back, opening its archive, and expiring old ones.

An export is the association's whole data of a service: only its admins (and the lab's operators)
ask for one and download it; its members see that one exists. Another association's export answers
404, as one that does not exist.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, lazyload

from provisioner.auth.actor import Actor
from provisioner.backups.targets import default_target
from provisioner.catalog.loader import Catalog
from provisioner.config import Settings
from provisioner.errors import Conflict, Gone, NotFound
from provisioner.instances.service import get_instance
from provisioner.instances.states import InstanceState
from provisioner.jobs.service import create_job
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.models import Export, Job
from provisioner.tenants.leaving import refuse_while_leaving
from provisioner.tenants.quotas import hold_tenant
from provisioner.timeutil import utcnow

log = logging.getLogger(__name__)

ACTIVE = ("queued", "running")
BEING_MADE = "an export of this service is being made already; wait for it"


@dataclass(frozen=True)
class Requested:
    export: Export
    job: Job


def request_export(session: Session, *, actor: Actor, catalog: Catalog, instance_id: str) -> Requested:
    instance = get_instance(session, actor=actor, instance_id=instance_id)
    actor.require_write(instance.tenant_id, "instance")
    # Held until the commit, so an offboarding asked for at the same moment sees this export's job.
    hold_tenant(session, tenant_id=instance.tenant_id)
    refuse_while_leaving(session, tenant_id=instance.tenant_id, what="an export")
    removing = select(Job.id).where(
        Job.instance_id == instance.id,
        Job.kind == JobKind.REMOVE.value,
        Job.status.in_((JobStatus.QUEUED.value, JobStatus.RUNNING.value)),
    )
    if instance.state != InstanceState.RUNNING or session.scalar(removing.limit(1)) is not None:
        shown = "about to be removed" if instance.state == InstanceState.RUNNING else instance.state
        raise Conflict(f"the service is {shown}; only a running service can be exported")
    template = catalog.get(instance.template)
    if template.exports is None:
        raise Conflict(f"the {instance.template} service does not say how its data is exported")
    if template.keeps_data:
        default_target(session)  # the export starts from a fresh backup: a target must exist
    running = select(Export.id).where(Export.instance_id == instance.id, Export.state.in_(ACTIVE))
    if session.scalar(running.limit(1)) is not None:
        raise Conflict(BEING_MADE)
    job = create_job(session, instance=instance, kind=JobKind.EXPORT, requested_by=actor.principal)
    export = Export(
        tenant_id=instance.tenant_id,
        instance_id=instance.id,
        job_id=job.id,
        state="queued",
        requested_by=actor.principal,
    )
    return queued(
        session, export, job, being_made="an export of this service is being made already; wait for it"
    )


def queued(session: Session, export: Export, job: Job, *, being_made: str) -> Requested:
    """The export and its job, added; ``Conflict(being_made)`` when another of the same (service,
    space or whole association) was added at the same moment: a partial unique index decides between
    two requests that both found none being made."""
    session.add(export)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(being_made) from exc
    return Requested(export=export, job=job)


def get_export(session: Session, *, actor: Actor, export_id: str) -> Export:
    export = session.get(Export, export_id)
    if export is None or not actor.can_see_tenant(export.tenant_id):
        raise NotFound("export not found")
    return export


def export_of_job(session: Session, *, job_id: str) -> Export:
    found = session.scalar(select(Export).where(Export.job_id == job_id))
    if found is None:
        raise NotFound("no export belongs to this job")
    return found


def list_exports(session: Session, *, actor: Actor, instance_id: str) -> Sequence[Export]:
    instance = get_instance(session, actor=actor, instance_id=instance_id)
    query = select(Export).where(Export.instance_id == instance.id)
    return session.scalars(query.order_by(Export.created_at.desc(), Export.id.desc())).unique().all()


def downloadable(
    session: Session, settings: Settings, *, actor: Actor, export_id: str
) -> tuple[Export, Path]:
    """The export and its sealed file, for its association's admins and operators while it lasts."""
    export = get_export(session, actor=actor, export_id=export_id)
    actor.require_write(export.tenant_id, "export")
    if export.state in ("expired", "replaced") or (
        export.state == "ready" and export.expires_at is not None and export.expires_at <= utcnow()
    ):
        raise Gone("this export has expired and its archive is deleted; ask for a new one")
    if export.state != "ready" or export.file is None:
        raise Conflict(f"this export is {export.state}; only a ready export can be downloaded")
    path = settings.resolved_exports_dir / export.file
    if not path.is_file():
        raise Gone("this export's archive is gone; ask for a new one")
    return export, path


def archive_name(export: Export) -> str:
    """What the download is saved as: the association, the service or space (neither for the whole
    association) and the day, never a stored path."""
    day = (export.finished_at or export.created_at).strftime("%Y-%m-%d")
    of = export.instance or export.space
    service = f"-{of.name}" if of is not None else ""
    return f"{export.tenant.slug}{service}-{day}.tar.gz"


def expire_exports(session: Session, settings: Settings) -> int:
    """Delete the archives whose time is up; returns how many. Run by the worker's periodic tasks."""
    now = utcnow()
    # Two sweeps at once each take the rows the other has not locked; the rows alone, without the
    # joined instance and tenant, since PostgreSQL locks no nullable side of an outer join.
    query = select(Export).where(Export.state == "ready", Export.expires_at <= now)
    due = session.scalars(query.options(lazyload("*")).with_for_update(skip_locked=True)).all()
    for export in due:
        drop_archive(settings, export)
        export.state = "expired"
    _sweep_leftovers(session, settings)
    return len(due)


def _sweep_leftovers(session: Session, settings: Settings) -> None:
    """What an export whose worker was lost left (its throwaway folder, a part of its archive): every
    file of the exports folder that belongs to no export being made or ready."""
    folder = settings.resolved_exports_dir
    if not folder.is_dir():
        return
    kept = select(Export.id, Export.state, Export.file).where(Export.state.in_((*ACTIVE, "ready")))
    active = {row.id for row in session.execute(kept) if row.state in ACTIVE}
    ready = {row.file for row in session.execute(kept) if row.state == "ready"}
    for path in folder.iterdir():
        owner = path.name.removeprefix("work-").split(".", 1)[0]
        if path.name in ready or owner in active:
            continue
        log.info("exports: removing %s, left by an export that ended", path.name)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def drop_archive(settings: Settings, export: Export) -> None:
    if export.file is not None:
        (settings.resolved_exports_dir / export.file).unlink(missing_ok=True)
        log.info("export %s: archive deleted", export.id)
    export.file = None
