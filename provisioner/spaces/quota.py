"""An operator changes a running space's limits: a job runs the service's own change command with the
new quota, and the space's row takes it once the service applied it. Only a limit the service
enforces can be given, and only where its template has a change command."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor
from provisioner.catalog.loader import Catalog
from provisioner.catalog.sharing import shared_mode
from provisioner.errors import Conflict, InvalidInput
from provisioner.jobs.service import create_job, has_unfinished
from provisioner.jobs.states import JobKind
from provisioner.models import Job, Space, SpaceQuotaChange
from provisioner.spaces.service import get_space, shared_template
from provisioner.spaces.states import SpaceState

_LIMITS = {"members": "members", "storage_mb": "storage"}  # the body's name -> the template's


def _hold_space(session: Session, space_id: str) -> None:
    """Hold the space's row while looking for a change waiting: of two changes at once, the second
    sees the first's job. PostgreSQL locks the row; SQLite has one writer at a time, and a write as
    the transaction's first statement makes it that writer (as ``hold_tenant`` does)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(Space).where(Space.id == space_id).values(id=Space.id))
    else:
        session.execute(select(Space.id).where(Space.id == space_id).with_for_update())


@dataclass(frozen=True)
class QuotaChanged:
    space: Space
    job: Job


def change_space_quota(
    session: Session, *, actor: Actor, catalog: Catalog, space_id: str, given: dict[str, int | None]
) -> QuotaChanged:
    """``given``: the limits to change (``members``, ``storage_mb``), None for the service's default;
    a limit not given keeps its value."""
    actor.require_operator()
    _hold_space(session, space_id)
    space = get_space(session, actor=actor, space_id=space_id)
    template = shared_template(catalog, space.template)
    shared = shared_mode(template.sharing, template.name)
    if not given:
        raise InvalidInput(
            "give the limits to change",
            errors=[{"field": "body.quota", "message": "give members or storage_mb"}],
        )
    for name, value in given.items():
        if value is not None and not getattr(shared.quota, _LIMITS[name]):
            message = f"the {template.name} service does not enforce this limit"
            raise InvalidInput(message, errors=[{"field": f"body.quota.{name}", "message": message}])
    if shared.commands.change is None:
        raise Conflict(f"the {template.name} service cannot change a space's limits once it is made")
    if space.state != SpaceState.RUNNING or space.instance is None:
        raise Conflict(f"the space is {space.state}; only a running space's limits can be changed")
    for kind in (JobKind.SPACE_QUOTA, JobKind.SPACE_REMOVE, JobKind.SPACE_MOVE_OUT):
        if has_unfinished(session, kind=kind, space_id=space.id):
            raise Conflict("the space has a change of its limits, a removal or a move waiting already")
    job = create_job(
        session,
        instance=space.instance,
        kind=JobKind.SPACE_QUOTA,
        requested_by=actor.principal,
        space_id=space.id,
    )
    session.add(
        SpaceQuotaChange(
            job_id=job.id,
            quota_members=given.get("members", space.quota_members),
            quota_storage_mb=given.get("storage_mb", space.quota_storage_mb),
        )
    )
    session.flush()
    return QuotaChanged(space=space, job=job)
