"""Moving an instance to another server: backup, remove from the source, deploy on the target, restore,
switch. When the target fails, the instance goes back to the source with the same backup.

The source is emptied before the target starts, so no write lands on the old copy after the backup
was taken (the service is down from the backup until the target answers), and a server that shares
its Docker Engine with another (two addresses of one machine) never loses what it just received.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from provisioner.backups.steps import BackupStepFailed, StepSink, restore_backup
from provisioner.context import Context
from provisioner.db import transaction
from provisioner.engine.sink import Unstoppable, note
from provisioner.engine.steps import (
    StepFailed,
    TakenBackup,
    backup_first,
    end_job,
    kept_in,
    restored_from,
    run_on_server,
    stamp,
    wait_healthy,
    why,
)
from provisioner.errors import DomainError
from provisioner.health.probe import Health
from provisioner.instances.hostnames import assign_domain
from provisioner.instances.placement import allocate_host_ports
from provisioner.instances.service import set_state
from provisioner.instances.states import InstanceState
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.models import Instance, Job, Server

S = InstanceState


@dataclass(frozen=True)
class Trip:
    instance_id: str
    source: str
    target: str
    window: int


def run_move(ctx: Context, job_id: str, sink: StepSink) -> None:
    with transaction(ctx.database_url) as session:
        job = session.get_one(Job, job_id)
        instance = job.subject
        if instance.server_id is None or job.target_server_id is None:
            raise StepFailed("a move needs the instance's server and a target")
        set_state(instance, S.MOVING)
        trip = Trip(
            instance_id=instance.id,
            source=instance.server_id,
            target=job.target_server_id,
            window=ctx.catalog.get(instance.template).updates.health_window_seconds,
        )
        names = _names(session, trip)

    try:
        backup = backup_first(ctx, instance_id=trip.instance_id, job_id=job_id, sink=sink)
    except (BackupStepFailed, DomainError) as exc:
        reason = f"the move to {names[1]} was not started, because the backup before it failed: {why(exc)}"
        health = wait_healthy(ctx, instance_id=trip.instance_id, within=0)
        end_job(ctx, job_id, status=JobStatus.FAILED, state=S.RUNNING, health=health, error=reason)
        return

    try:
        _arrive(ctx, sink, trip, job_id=job_id, backup=backup, leave=trip.source)
    except (StepFailed, BackupStepFailed, DomainError) as exc:
        _go_back(ctx, Unstoppable(sink), trip, job_id=job_id, backup=backup, failure=exc)
        return
    health = wait_healthy(ctx, instance_id=trip.instance_id, within=trip.window)
    if health is not Health.HEALTHY:
        failure = StepFailed(f"the instance did not become healthy on {names[1]} within {trip.window} s")
        _go_back(ctx, Unstoppable(sink), trip, job_id=job_id, backup=backup, failure=failure)
        return
    note(sink, f"moved from {names[0]} to {names[1]}")
    end_job(ctx, job_id, status=JobStatus.SUCCEEDED, state=S.RUNNING, health=health)


def _arrive(
    ctx: Context,
    sink: StepSink,
    trip: Trip,
    *,
    job_id: str,
    backup: TakenBackup | None,
    leave: str,
) -> None:
    """Empty ``leave``, point the instance at the other server of the trip, deploy and restore there."""
    arrive = trip.target if leave == trip.source else trip.source
    with transaction(ctx.database_url) as session:
        leave_name, arrive_name = session.get_one(Server, leave).name, session.get_one(Server, arrive).name
    note(sink, f"removing the instance from {leave_name}")
    removed = run_on_server(ctx, sink, instance_id=trip.instance_id, kind=JobKind.REMOVE, server_id=leave)
    if removed.status != "successful":
        raise StepFailed(f"the instance could not be removed from {leave_name}: {removed.error}")
    with transaction(ctx.database_url) as session:
        _switch(session, ctx, session.get_one(Instance, trip.instance_id), arrive)
    note(sink, f"deploying on {arrive_name}")
    deployed = run_on_server(ctx, sink, instance_id=trip.instance_id, kind=JobKind.DEPLOY)
    if deployed.status != "successful":
        raise StepFailed(f"the deploy on {arrive_name} failed: {deployed.error}")
    if backup is not None:
        note(sink, f"restoring the backup taken at {stamp(backup.created_at)} on {arrive_name}")
        restore_backup(ctx, instance_id=trip.instance_id, backup_id=backup.id, job_id=job_id, sink=sink)


def _switch(session: Session, ctx: Context, instance: Instance, server_id: str) -> None:
    """The instance's record follows it: server, hostname (the server's domain) and published ports."""
    server = session.get_one(Server, server_id)
    instance.server_id = server.id
    instance.server = server
    assign_domain(session, ctx.settings, instance, server)
    instance.host_ports.clear()
    session.flush()
    allocate_host_ports(session, ctx.catalog.get(instance.template), instance, server)


def _go_back(
    ctx: Context,
    sink: StepSink,
    trip: Trip,
    *,
    job_id: str,
    backup: TakenBackup | None,
    failure: Exception,
) -> None:
    with transaction(ctx.database_url) as session:
        source, target = _names(session, trip)
    what = f"the move to {target} failed: {why(failure)}"
    note(sink, f"{what}; going back to {source}")
    try:
        _arrive(ctx, sink, trip, job_id=job_id, backup=backup, leave=trip.target)
    except (StepFailed, BackupStepFailed, DomainError) as exc:
        error = f"{what}; going back to {source} failed too: {why(exc)}{kept_in(backup)}"
        end_job(ctx, job_id, status=JobStatus.FAILED, state=S.FAILED, error=error)
        return
    health = wait_healthy(ctx, instance_id=trip.instance_id, within=trip.window)
    error = f"{what}; the instance runs on {source} again{restored_from(backup)}"
    end_job(ctx, job_id, status=JobStatus.FAILED, state=S.RUNNING, health=health, error=error)


def _names(session: Session, trip: Trip) -> tuple[str, str]:
    return session.get_one(Server, trip.source).name, session.get_one(Server, trip.target).name
