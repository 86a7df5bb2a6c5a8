"""Work on an existing instance. Each answers 202 with the job that will do it."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import ActorDep, CatalogDep, DispatcherDep, SessionDep
from api.instances import schemas
from api.jobs import convert as job_convert
from api.jobs.schemas import JobAccepted
from provisioner.instances import operations
from provisioner.jobs.queue import commit_and_send

router = APIRouter(prefix="/api/v1/instances", tags=["instances"])


@router.post("/{instance_id}/update", status_code=status.HTTP_202_ACCEPTED)
def update_instance(
    instance_id: str,
    body: schemas.UpdateIn,
    *,
    actor: ActorDep,
    session: SessionDep,
    catalog: CatalogDep,
    dispatcher: DispatcherDep,
) -> JobAccepted:
    """Update the instance to another version (a job): backup first, rollback if the new version is not
    healthy."""
    job = operations.update_instance(
        session, actor=actor, catalog=catalog, instance_id=instance_id, version=body.version
    )
    commit_and_send(session, dispatcher)
    return JobAccepted(job=job_convert.job(job))


@router.post("/{instance_id}/move", status_code=status.HTTP_202_ACCEPTED)
def move_instance(
    instance_id: str,
    body: schemas.MoveIn,
    *,
    actor: ActorDep,
    session: SessionDep,
    catalog: CatalogDep,
    dispatcher: DispatcherDep,
) -> JobAccepted:
    """Move the instance to another server (a job): backup, deploy there, restore, switch, remove from the old
    one (operators)."""
    job = operations.move_instance(
        session, actor=actor, catalog=catalog, instance_id=instance_id, server_id=body.server
    )
    commit_and_send(session, dispatcher)
    return JobAccepted(job=job_convert.job(job))


@router.post("/{instance_id}/redeploy", status_code=status.HTTP_202_ACCEPTED)
def redeploy_instance(
    instance_id: str, actor: ActorDep, session: SessionDep, dispatcher: DispatcherDep
) -> JobAccepted:
    """Deploy the instance again on its version and server (a job), e.g. after a failure."""
    job = operations.redeploy_instance(session, actor=actor, instance_id=instance_id)
    commit_and_send(session, dispatcher)
    return JobAccepted(job=job_convert.job(job))


@router.post("/{instance_id}/credentials/reset", status_code=status.HTTP_202_ACCEPTED)
def reset_credentials(
    instance_id: str, actor: ActorDep, session: SessionDep, catalog: CatalogDep, dispatcher: DispatcherDep
) -> JobAccepted:
    """New admin credentials, set on the server by a job; then shown once more at .../credentials."""
    job = operations.reset_credentials(session, actor=actor, catalog=catalog, instance_id=instance_id)
    commit_and_send(session, dispatcher)
    return JobAccepted(job=job_convert.job(job))


@router.delete("/{instance_id}", status_code=status.HTTP_202_ACCEPTED)
def remove_instance(
    instance_id: str, actor: ActorDep, session: SessionDep, dispatcher: DispatcherDep
) -> JobAccepted:
    """Remove the instance (a job): containers, network, volumes and files on its server."""
    job = operations.remove_instance(session, actor=actor, instance_id=instance_id)
    commit_and_send(session, dispatcher)
    return JobAccepted(job=job_convert.job(job))
