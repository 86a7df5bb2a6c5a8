"""Pieces of the jobs that change an instance in several runs and undo what failed (update, move).

Each piece is one playbook run or one check, with its events going to the calling job; the jobs in
``updates.py`` and ``moves.py`` put them in order and decide what to undo.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from provisioner.backups.steps import StepSink, run_step, take_backup
from provisioner.catalog.loader import Catalog
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.deployments.plan import build_run_spec, steps_run_spec
from provisioner.health.probe import Health
from provisioner.health.tls import check_on_server
from provisioner.instances.service import set_state
from provisioner.instances.states import InstanceState
from provisioner.jobs.service import finish_job, owned_job
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.models import Instance, Server
from provisioner.runner.spec import RunnerEvent, RunOutcome
from provisioner.timeutil import utcnow


class StepFailed(Exception):
    """A step of a guarded job failed; the message is one line for people."""


class Unstoppable:
    """The calling job's sink for runs that undo a failed change: a cancel request does not stop them,
    since stopping a rollback halfway would leave the instance worse off than either version."""

    def __init__(self, sink: StepSink) -> None:
        self._sink = sink

    def emit(self, event: RunnerEvent) -> None:
        self._sink.emit(event)

    @property
    def lost(self) -> bool:
        return self._sink.lost

    def should_cancel(self) -> bool:
        # Still asked, as it flushes events; a job the reaper gave up stops even here, since another
        # job may own the instance by now.
        self._sink.should_cancel()
        return self._sink.lost

    def flush(self) -> None:
        self._sink.flush()

    def continue_numbering(self) -> None:
        self._sink.continue_numbering()


def note(sink: StepSink, line: str) -> None:
    """A progress line between runs, so the job's events tell which step it is at."""
    sink.continue_numbering()
    sink.emit(
        RunnerEvent(seq=1, created_at=utcnow(), host=None, task=None, status="info", line=line, stdout=line)
    )
    sink.flush()
    sink.continue_numbering()


@dataclass(frozen=True)
class TakenBackup:
    id: str
    created_at: datetime


def backup_first(
    settings: Settings, catalog: Catalog, *, instance_id: str, job_id: str, sink: StepSink
) -> TakenBackup | None:
    """The backup a change starts from; None when the template keeps no data to back up."""
    with transaction(settings.resolved_database_url) as session:
        template = catalog.get(session.get_one(Instance, instance_id).template)
    if not template.keeps_data:
        note(sink, "no backup: the service keeps no data")
        return None
    note(sink, "taking a backup first")
    backup = take_backup(settings, catalog, instance_id=instance_id, job_id=job_id, sink=sink)
    note(sink, f"backup {backup.id} taken at {stamp(backup.created_at)}")
    return TakenBackup(id=backup.id, created_at=backup.created_at)


def run_on_server(
    settings: Settings,
    catalog: Catalog,
    sink: StepSink,
    *,
    instance_id: str,
    kind: JobKind,
    version: str | None = None,
    server_id: str | None = None,
) -> RunOutcome:
    """One deploy, update or removal run of the instance, on its server or the one named."""
    with transaction(settings.resolved_database_url) as session:
        instance = session.get_one(Instance, instance_id)
        server = session.get_one(Server, server_id) if server_id else None
        spec = build_run_spec(settings, catalog, instance, kind, version=version, server=server)
    return run_step(settings, spec, sink)


def run_steps_before_update(
    settings: Settings, catalog: Catalog, sink: StepSink, *, instance_id: str
) -> RunOutcome | None:
    """The template's ``hooks.update.before`` steps in the running version; None when it has none."""
    with transaction(settings.resolved_database_url) as session:
        instance = session.get_one(Instance, instance_id)
        hook = catalog.get(instance.template).hooks.update
        if hook is None or not hook.before:
            return None
        spec = steps_run_spec(settings, catalog, instance, hook.before, timed_as="update")
    note(sink, "running the template's steps before the update")
    return run_step(settings, spec, sink)


def wait_healthy(settings: Settings, catalog: Catalog, *, instance_id: str, within: int) -> Health:
    """Ask through the proxy, as a visitor would, until the instance answers or the window ends."""
    deadline = time.monotonic() + within
    while True:
        with transaction(settings.resolved_database_url) as session:
            instance = session.get_one(Instance, instance_id)
            check = catalog.get(instance.template).health
            if instance.url is None or instance.server is None:
                raise StepFailed("the instance has no URL or server")
            # Its certificate verified as the sweep does (the server proxy's CA for internal TLS).
            health = check_on_server(session, settings, check, url=instance.url, server=instance.server)
        if health is Health.HEALTHY or time.monotonic() >= deadline:
            return health
        time.sleep(2)


def end_job(
    settings: Settings,
    job_id: str,
    *,
    status: JobStatus,
    state: InstanceState,
    health: Health | None = None,
    error: str | None = None,
    change: Callable[[Instance], None] | None = None,
) -> None:
    """Finish the job and put the instance in its final state (with ``change`` applied first)."""
    with transaction(settings.resolved_database_url) as session:
        job = owned_job(session, job_id=job_id)
        instance = job.instance
        if change is not None:
            change(instance)
        if health is not None:
            instance.health = health.value
            instance.health_checked_at = utcnow()
        reason = error if state is InstanceState.FAILED or status is not JobStatus.SUCCEEDED else None
        set_state(instance, state, reason=reason)
        finish_job(session, job=job, status=status, error=error)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
