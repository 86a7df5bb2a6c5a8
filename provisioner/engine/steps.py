"""The steps the job handlers share: one playbook run, a backup first, a health wait, the job's end.

Each step is one playbook run or one check, with its events going to the calling job; the handlers
put them in order and decide what to undo. Each commits its own short transactions, so call them
outside an open session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import object_session

from provisioner.backups.steps import StepSink, run_step, take_backup
from provisioner.context import Context
from provisioner.db import transaction
from provisioner.deployments.plan import build_run_spec, steps_run_spec
from provisioner.engine.sink import note
from provisioner.errors import DomainError
from provisioner.health.probe import Health
from provisioner.instances.service import set_state
from provisioner.instances.states import InstanceState
from provisioner.jobs.service import finish_job, owned_job
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.models import Instance, Server
from provisioner.runner.spec import RunOutcome

S = InstanceState


class StepFailed(Exception):
    """A step of a job failed; the message is one line for people."""


@dataclass(frozen=True)
class TakenBackup:
    id: str
    created_at: datetime


def backup_first(ctx: Context, *, instance_id: str, job_id: str, sink: StepSink) -> TakenBackup | None:
    """The backup a change starts from; None when the template keeps no data to back up."""
    with transaction(ctx.database_url) as session:
        template = ctx.catalog.get(session.get_one(Instance, instance_id).template)
    if not template.keeps_data:
        note(sink, "no backup: the service keeps no data")
        return None
    note(sink, "taking a backup first")
    backup = take_backup(ctx, instance_id=instance_id, job_id=job_id, sink=sink)
    note(sink, f"backup {backup.id} taken at {stamp(backup.created_at)}")
    return TakenBackup(id=backup.id, created_at=backup.created_at)


def run_on_server(
    ctx: Context,
    sink: StepSink,
    *,
    instance_id: str,
    kind: JobKind,
    version: str | None = None,
    server_id: str | None = None,
) -> RunOutcome:
    """One deploy, update or removal run of the instance, on its server or the one named."""
    with transaction(ctx.database_url) as session:
        instance = session.get_one(Instance, instance_id)
        server = session.get_one(Server, server_id) if server_id else None
        spec = build_run_spec(ctx.settings, ctx.catalog, instance, kind, version=version, server=server)
    return run_step(ctx, spec, sink)


def run_steps_before_update(ctx: Context, sink: StepSink, *, instance_id: str) -> RunOutcome | None:
    """The template's ``hooks.update.before`` steps in the running version; None when it has none."""
    with transaction(ctx.database_url) as session:
        instance = session.get_one(Instance, instance_id)
        hook = ctx.catalog.get(instance.template).hooks.update
        if hook is None or not hook.before:
            return None
        spec = steps_run_spec(ctx.settings, ctx.catalog, instance, hook.before, timed_as="update")
    note(sink, "running the template's steps before the update")
    return run_step(ctx, spec, sink)


def wait_healthy(ctx: Context, *, instance_id: str, within: int) -> Health:
    """Ask through the proxy, as a visitor would, until the instance answers or the window ends."""
    deadline = ctx.clock.monotonic() + within
    while True:
        with transaction(ctx.database_url) as session:
            instance = session.get_one(Instance, instance_id)
            check = ctx.catalog.get(instance.template).health
            if instance.url is None or instance.server is None:
                raise StepFailed("the instance has no URL or server")
            # Its certificate verified as the sweep does (the server proxy's CA for internal TLS).
            health = ctx.health(session, ctx.settings, check, url=instance.url, server=instance.server)
        if health is Health.HEALTHY or ctx.clock.monotonic() >= deadline:
            return health
        ctx.clock.sleep(2)


def mark_running(ctx: Context, instance: Instance) -> None:
    session = object_session(instance)
    if instance.server is None or instance.url is None or session is None:
        raise RuntimeError("a deployed instance has a server and a URL, and is in a session")
    # Through the server's proxy, by hostname, as a visitor reaches it, its certificate verified.
    instance.health = ctx.health(
        session,
        ctx.settings,
        ctx.catalog.get(instance.template).health,
        url=instance.url,
        server=instance.server,
    )
    instance.health_checked_at = ctx.clock.now()
    set_state(instance, S.RUNNING)


def end_job(
    ctx: Context,
    job_id: str,
    *,
    status: JobStatus,
    state: InstanceState,
    health: Health | None = None,
    error: str | None = None,
    change: Callable[[Instance], None] | None = None,
) -> None:
    """Finish the job and put the instance in its final state (with ``change`` applied first)."""
    with transaction(ctx.database_url) as session:
        job = owned_job(session, job_id=job_id)
        instance = job.subject
        if change is not None:
            change(instance)
        if health is not None:
            instance.health = health.value
            instance.health_checked_at = ctx.clock.now()
        reason = error if state is S.FAILED or status is not JobStatus.SUCCEEDED else None
        set_state(instance, state, reason=reason)
        finish_job(session, job=job, status=status, error=error)


def kept_in(backup: TakenBackup | None) -> str:
    """Where the data is when a way back failed too: the error names the backup to restore by hand."""
    return f"; the backup {backup.id} taken at {stamp(backup.created_at)} holds the data" if backup else ""


def restored_from(backup: TakenBackup | None) -> str:
    return f", data restored from the backup taken at {stamp(backup.created_at)}" if backup else ""


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def why(exc: Exception) -> str:
    return exc.detail if isinstance(exc, DomainError) else str(exc)
