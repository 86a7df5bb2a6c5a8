"""One space's own data: a backup of the space alone into its association's repository, its restore
inside the shared instance (the other spaces untouched), and its move into a dedicated instance of
the association's own. Each is a job on the shared instance, so it waits for the instance's other work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor
from provisioner.backups.clones import new_instance
from provisioner.backups.service import check_restorable
from provisioner.backups.targets import default_target
from provisioner.catalog.loader import Catalog
from provisioner.catalog.model import Template
from provisioner.catalog.sharing import shared_mode
from provisioner.config import Settings
from provisioner.errors import Conflict
from provisioner.jobs.service import create_job
from provisioner.jobs.states import JobKind
from provisioner.models import Instance, Job, Space, SpaceBackup, SpaceRestore
from provisioner.spaces.service import get_space
from provisioner.spaces.states import SpaceState
from provisioner.tenants.leaving import refuse_while_leaving
from provisioner.tenants.quotas import check_quota, hold_tenant

_UNFINISHED = Job.finished_at.is_(None)


def _separable_template(catalog: Catalog, space: Space) -> Template:
    template = catalog.get(space.template)
    if not shared_mode(template.sharing, template.name).data.separable:
        raise Conflict(
            f"the {template.name} service cannot take one space's data apart from the others'; "
            "a restore of the shared instance brings back every space"
        )
    return template


def _working_space(session: Session, actor: Actor, space_id: str, catalog: Catalog) -> Space:
    space = get_space(session, actor=actor, space_id=space_id)
    actor.require_write(space.tenant_id, "space")
    if space.state != SpaceState.RUNNING or space.instance is None:
        raise Conflict(f"the space is {space.state}; only a running space's data can be worked on")
    _separable_template(catalog, space)
    leaving = select(Job.id).where(
        Job.space_id == space.id,
        Job.kind.in_([JobKind.SPACE_REMOVE.value, JobKind.SPACE_MOVE_OUT.value]),
        _UNFINISHED,
    )
    if session.scalar(leaving.limit(1)) is not None:
        raise Conflict("the space is about to be removed or moved out")
    return space


def _job(session: Session, space: Space, kind: JobKind, actor: Actor) -> Job:
    assert space.instance is not None  # noqa: S101 - checked by _working_space
    return create_job(
        session, instance=space.instance, kind=kind, requested_by=actor.principal, space_id=space.id
    )


def request_space_backup(session: Session, *, actor: Actor, catalog: Catalog, space_id: str) -> Job:
    """Queue a backup of the space alone, into its association's own repository."""
    space = _working_space(session, actor, space_id, catalog)
    default_target(session)
    return _job(session, space, JobKind.SPACE_BACKUP, actor)


def list_space_backups(session: Session, *, actor: Actor, space_id: str) -> Sequence[SpaceBackup]:
    space = get_space(session, actor=actor, space_id=space_id)
    query = select(SpaceBackup).where(SpaceBackup.space_id == space.id)
    return (
        session.scalars(query.order_by(SpaceBackup.created_at.desc(), SpaceBackup.id.desc())).unique().all()
    )


def request_space_restore(
    session: Session, *, actor: Actor, catalog: Catalog, space_id: str, backup_id: str
) -> Job:
    """Queue putting one of the space's backups back into the space; the other spaces stay as they are."""
    space = _working_space(session, actor, space_id, catalog)
    backup = session.get(SpaceBackup, backup_id)
    check_restorable(backup, ours=backup is not None and backup.space_id == space.id, owner="space")
    assert backup is not None  # noqa: S101 - checked above
    job = _job(session, space, JobKind.SPACE_RESTORE, actor)
    session.add(SpaceRestore(job_id=job.id, backup_id=backup.id))
    session.flush()
    return job


@dataclass(frozen=True)
class MoveAccepted:
    """The dedicated instance the space moves into, and the job that fills it and removes the space."""

    instance: Instance
    job: Job


def request_move_out(
    session: Session,
    *,
    actor: Actor,
    catalog: Catalog,
    settings: Settings,
    space_id: str,
    name: str | None = None,
    subdomain: str | None = None,
) -> MoveAccepted:
    """Move the space into a dedicated instance of the association's own (operators): the instance is
    approved and placed now (against the association's quota, like any of its instances); the job backs
    the space up, deploys the instance, loads the space's data into it at its own address, and removes
    the space."""
    actor.require_operator()
    space = _working_space(session, actor, space_id, catalog)
    refuse_while_leaving(session, tenant_id=space.tenant_id, what="a move into a dedicated instance")
    shared = space.instance
    assert shared is not None  # noqa: S101 - a running space is placed
    template = catalog.get(space.template)
    if "dedicated" not in (template.sharing.modes if template.sharing else ["dedicated"]):
        raise Conflict(f"the {template.name} service has no dedicated mode to move into")
    default_target(session)
    chosen_name = name or space.name
    # The space keeps its own address until it is removed, at the end of the move.
    chosen = subdomain or f"{space.subdomain[:58].rstrip('-')}-site"
    hold_tenant(session, tenant_id=space.tenant_id)
    check_quota(session, catalog, settings, tenant=space.tenant, template=template.name)
    instance = new_instance(
        session,
        settings,
        catalog,
        tenant_id=space.tenant_id,
        template=template.name,
        version=shared.version,
        parameters=dict(shared.parameters),
        name=chosen_name,
        subdomain=chosen,
        # The shared instance's server when it has room: the space's data need not leave it.
        near=shared,
        reason=f"the space {space.id} moves into it",
    )
    job = _job(session, space, JobKind.SPACE_MOVE_OUT, actor)
    session.add(SpaceRestore(job_id=job.id, instance_id=instance.id))
    session.flush()
    return MoveAccepted(instance=instance, job=job)


def restore_of_space(session: Session, *, job_id: str) -> SpaceRestore:
    return session.get_one(SpaceRestore, job_id)
