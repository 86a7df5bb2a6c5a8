"""Work on instances that exist: redeploy, update, remove. Each becomes a job that waits its turn.

The instance's state changes when a worker starts the job, not when it is asked for: a removal asked
for while a backup runs waits in the queue, and the instance says what is really going on meanwhile.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor
from provisioner.catalog.loader import Catalog
from provisioner.errors import Conflict, InvalidInput
from provisioner.instances.placement import choose_server
from provisioner.instances.service import get_instance, set_state
from provisioner.instances.states import InstanceState
from provisioner.jobs.service import create_job, request_cancel
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.models import Instance, Job

S = InstanceState
DEPLOYED = frozenset({S.RUNNING, S.FAILED, S.PROVISIONING, S.UPDATING, S.BACKING_UP, S.RESTORING, S.MOVING})


def _removal_pending(session: Session, instance: Instance) -> bool:
    query = select(Job.id).where(
        Job.instance_id == instance.id,
        Job.kind == JobKind.REMOVE.value,
        Job.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value]),
    )
    return session.scalar(query.limit(1)) is not None


def _writable(session: Session, actor: Actor, instance_id: str) -> Instance:
    instance = get_instance(session, actor=actor, instance_id=instance_id)
    actor.require_write(instance.tenant_id, "instance")
    if instance.state == S.REMOVED or _removal_pending(session, instance):
        raise Conflict("the instance is removed or about to be")
    return instance


def redeploy_instance(session: Session, *, actor: Actor, instance_id: str) -> Job:
    instance = _writable(session, actor, instance_id)
    if InstanceState(instance.state) not in DEPLOYED or instance.server_id is None:
        raise Conflict(f"the instance is {instance.state}; only deployed instances can be deployed again")
    return create_job(session, instance=instance, kind=JobKind.DEPLOY, requested_by=actor.principal)


def update_instance(
    session: Session, *, actor: Actor, catalog: Catalog, instance_id: str, version: str
) -> Job:
    """Queue an update to ``version`` when the template's update rules allow that step.

    Schedules call this with the system actor, so it takes no request-only arguments."""
    instance = _writable(session, actor, instance_id)
    template = catalog.get(instance.template)
    allowed = template.update_targets(instance.version)
    if version not in allowed:
        raise InvalidInput(
            _refusal(template.name, instance.version, version, known=version in template.versions),
            errors=[{"field": "body.version", "message": _allowed_next(allowed)}],
        )
    if InstanceState(instance.state) not in DEPLOYED:
        raise Conflict(f"the instance is {instance.state}; only deployed instances can be updated")
    return create_job(
        session, instance=instance, kind=JobKind.UPDATE, target_version=version, requested_by=actor.principal
    )


def _refusal(template: str, current: str, wanted: str, *, known: bool) -> str:
    if not known:
        return f"{template} has no version {wanted!r}"
    if wanted == current:
        return f"the instance runs {current} already"
    return f"{template} cannot go from {current} to {wanted}"


def _allowed_next(allowed: list[str]) -> str:
    if not allowed:
        return "no update is possible: the instance runs the newest version (downgrades are never offered)"
    return f"allowed next: {', '.join(allowed)}"


def remove_instance(session: Session, *, actor: Actor, instance_id: str) -> Job:
    instance = _writable(session, actor, instance_id)
    return create_job(session, instance=instance, kind=JobKind.REMOVE, requested_by=actor.principal)


def reset_credentials(session: Session, *, actor: Actor, catalog: Catalog, instance_id: str) -> Job:
    """New values for the credentials the admin was shown, applied on the server by a job, shown once."""
    instance = _writable(session, actor, instance_id)
    template = catalog.get(instance.template)
    if template.hooks.reset_credentials is None:
        raise Conflict(f"{template.name} has no credentials the control plane can reset")
    if InstanceState(instance.state) not in DEPLOYED or instance.server_id is None:
        raise Conflict(f"the instance is {instance.state}; only deployed instances get new credentials")
    return create_job(
        session, instance=instance, kind=JobKind.RESET_CREDENTIALS, requested_by=actor.principal
    )


def move_instance(
    session: Session, *, actor: Actor, catalog: Catalog, instance_id: str, server_id: str | None = None
) -> Job:
    """Queue a move to ``server_id``, or to the open server with the most room; the room is reserved
    on the target from now on, so moves queued one after another never overfill a server."""
    actor.require_operator()
    instance = _writable(session, actor, instance_id)
    if InstanceState(instance.state) not in DEPLOYED or instance.server_id is None:
        raise Conflict(f"the instance is {instance.state}; only deployed instances can be moved")
    need = catalog.get(instance.template).resources
    target = choose_server(session, catalog, need=need, server_id=server_id, avoid=instance.server_id)
    return create_job(
        session,
        instance=instance,
        kind=JobKind.MOVE,
        target_server_id=target.id,
        requested_by=actor.principal,
    )


def cancel_job(session: Session, *, actor: Actor, job_id: str) -> Job:
    """Cancel a job; when a deploy ends before it started, the instance says so instead of 'approved'."""
    job = request_cancel(session, actor=actor, job_id=job_id)
    if job.status == JobStatus.CANCELED and job.kind == JobKind.DEPLOY and job.subject.state == S.APPROVED:
        set_state(
            job.subject, S.FAILED, reason="the deploy was canceled before it started; nothing was deployed"
        )
    return job
