"""Asking for an export of one space: its own data, apart from the other spaces of its shared instance.

Only the association's admins (and the lab's operators) ask for one; it is read and downloaded as any
export (``provisioner.exports.service``). Only a running space of a service that can take one space's
data apart from the others' (``sharing.shared.data`` separable, with the parts to export) is exported;
the job is a job on the shared instance, so it waits for the instance's other work.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor
from provisioner.backups.targets import default_target
from provisioner.catalog.loader import Catalog
from provisioner.catalog.sharing import shared_mode
from provisioner.errors import Conflict
from provisioner.exports.service import ACTIVE, Requested, queued
from provisioner.jobs.service import create_job
from provisioner.jobs.states import JobKind
from provisioner.models import Export, Job, Space
from provisioner.spaces.service import get_space
from provisioner.spaces.states import SpaceState
from provisioner.tenants.leaving import refuse_while_leaving
from provisioner.tenants.quotas import hold_tenant

BEING_MADE = "an export of this space is being made already; wait for it"


def unexportable(catalog: Catalog, space: Space) -> str | None:
    """Why the space's service cannot export one space's data alone; None when it can."""
    template = catalog.get(space.template)
    data = shared_mode(template.sharing, template.name).data
    if not data.separable:
        return (
            f"the {template.name} service cannot take one space's data apart from the others'; "
            "a space of it cannot be exported alone"
        )
    if not data.parts:
        return f"the {template.name} service does not say how a space's data is exported"
    return None


def request_space_export(session: Session, *, actor: Actor, catalog: Catalog, space_id: str) -> Requested:
    space = get_space(session, actor=actor, space_id=space_id)
    actor.require_write(space.tenant_id, "space")
    # Held until the commit, so an offboarding asked for at the same moment sees this export's job.
    hold_tenant(session, tenant_id=space.tenant_id)
    refuse_while_leaving(session, tenant_id=space.tenant_id, what="an export")
    leaving = select(Job.id).where(
        Job.space_id == space.id,
        Job.kind.in_([JobKind.SPACE_REMOVE.value, JobKind.SPACE_MOVE_OUT.value]),
        Job.finished_at.is_(None),
    )
    if space.state != SpaceState.RUNNING or space.instance is None:
        raise Conflict(f"the space is {space.state}; only a running space can be exported")
    if session.scalar(leaving.limit(1)) is not None:
        raise Conflict("the space is about to be removed or moved out; only a running space can be exported")
    why = unexportable(catalog, space)
    if why is not None:
        raise Conflict(why)
    default_target(session)  # the export starts from a fresh backup of the space: a target must exist
    running = select(Export.id).where(Export.space_id == space.id, Export.state.in_(ACTIVE))
    if session.scalar(running.limit(1)) is not None:
        raise Conflict(BEING_MADE)
    job = create_job(
        session,
        instance=space.instance,
        kind=JobKind.SPACE_EXPORT,
        requested_by=actor.principal,
        space_id=space.id,
    )
    export = Export(
        tenant_id=space.tenant_id,
        instance_id=None,
        space_id=space.id,
        job_id=job.id,
        state="queued",
        requested_by=actor.principal,
    )
    return queued(session, export, job, being_made=BEING_MADE)


def space_exports(session: Session, *, actor: Actor, space_id: str) -> Sequence[Export]:
    """The space's exports, newest first."""
    space = get_space(session, actor=actor, space_id=space_id)
    query = select(Export).where(Export.space_id == space.id)
    return session.scalars(query.order_by(Export.created_at.desc(), Export.id.desc())).unique().all()
