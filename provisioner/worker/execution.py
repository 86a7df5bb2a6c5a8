"""Runs one job: claim it, move the instance, run the playbook, stream events, record the outcome."""

from __future__ import annotations

import logging
import time

from sqlalchemy.orm import object_session

from provisioner.catalog.loader import Catalog
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.deployments.plan import build_run_spec
from provisioner.errors import IllegalTransition
from provisioner.health.tls import check_on_server
from provisioner.instances.credentials import renew_shown_secrets, store_secrets
from provisioner.instances.service import set_state
from provisioner.instances.states import InstanceState
from provisioner.jobs.service import (
    ClaimResult,
    EventRecord,
    JobLost,
    add_events,
    cancel_requested,
    claim_job,
    finish_job,
    owned_job,
)
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.models import Instance, Job
from provisioner.runner.adapter import run_playbook
from provisioner.runner.spec import RunnerEvent, RunOutcome, RunSpec
from provisioner.timeutil import utcnow
from provisioner.worker.heartbeat import Heartbeat
from provisioner.worker.moves import run_move
from provisioner.worker.updates import run_update

log = logging.getLogger(__name__)

# Jobs made of several runs with a way back when one fails.
GUARDED = {JobKind.UPDATE: run_update, JobKind.MOVE: run_move}

# The state an instance is in while a job of each kind works on it.
WORKING_STATE = {
    JobKind.DEPLOY: InstanceState.PROVISIONING,
    JobKind.UPDATE: InstanceState.UPDATING,
    JobKind.REMOVE: InstanceState.REMOVING,
    JobKind.RESET_CREDENTIALS: InstanceState.PROVISIONING,
}

_OUTCOME_STATUS = {
    "successful": JobStatus.SUCCEEDED,
    "canceled": JobStatus.CANCELED,
    "timeout": JobStatus.TIMED_OUT,
}


class InstanceBusy(Exception):
    pass


class DatabaseSink:
    """Writes runner events in small batches and answers cancel requests.

    ansible-runner asks ``should_cancel`` twice a second (``ASK_EVERY_SECONDS`` in the runner adapter),
    also while a task is silent, so that is where waiting events are flushed. The job's heartbeat beats
    on a thread of its own (``Heartbeat``); once it finds the job reaped, every run is stopped.
    """

    def __init__(
        self,
        database_url: str,
        job_id: str,
        *,
        heartbeat: Heartbeat | None = None,
        max_batch: int = 50,
        max_delay: float = 0.5,
        cancel_poll: float = 1.0,
    ) -> None:
        self._url = database_url
        self._job_id = job_id
        self._heartbeat = heartbeat
        self._buffer: list[EventRecord] = []
        self._max_batch = max_batch
        self._max_delay = max_delay
        self._cancel_poll = cancel_poll
        self._last_flush = self._last_poll = time.monotonic()
        self._canceled = False
        # Each playbook run numbers its events from 1; a job that runs several (a backup before an
        # update, a drill) continues after the last number of the run before.
        self._offset = self._last_seq = 0

    @property
    def lost(self) -> bool:
        """The job was given up by the reaper while it ran: nothing more may be done for it."""
        return self._heartbeat is not None and self._heartbeat.lost

    def continue_numbering(self) -> None:
        """Number the next run's events after the ones already emitted."""
        self._offset = self._last_seq

    def emit(self, event: RunnerEvent) -> None:
        seq = self._offset + event.seq
        self._last_seq = max(self._last_seq, seq)
        self._buffer.append(
            EventRecord(
                seq=seq,
                created_at=event.created_at,
                host=event.host,
                task=event.task,
                status=event.status,
                line=event.line,
                stdout=event.stdout,
            )
        )
        if len(self._buffer) >= self._max_batch:
            self.flush()

    def should_cancel(self) -> bool:
        now = time.monotonic()
        if self._buffer and now - self._last_flush >= self._max_delay:
            self.flush()
        if not self._canceled and now - self._last_poll >= self._cancel_poll:
            self._last_poll = now
            with transaction(self._url) as session:
                self._canceled = cancel_requested(session, job_id=self._job_id)
        return self._canceled or self.lost

    def flush(self) -> None:
        self._last_flush = time.monotonic()
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        with transaction(self._url) as session:
            add_events(session, job_id=self._job_id, events=batch)  # also beats the heart


def _start(settings: Settings, catalog: Catalog, job_id: str) -> RunSpec | None:
    """Move the instance into its working state and build the spec; None when there is nothing to run."""
    with transaction(settings.resolved_database_url) as session:
        job = session.get_one(Job, job_id)
        instance = job.instance
        kind = JobKind(job.kind)
        set_state(instance, WORKING_STATE[kind])
        if instance.server is None:
            return None
        template = catalog.get(instance.template)
        if kind is JobKind.RESET_CREDENTIALS:
            renew_shown_secrets(settings, instance, template)
        elif kind is not JobKind.REMOVE:
            # A secret the template gained since the approval is made now (the others are kept).
            store_secrets(settings, instance, template)
        return build_run_spec(settings, catalog, instance, kind, version=job.target_version)


def _why(kind: JobKind, status: JobStatus, error: str | None) -> str:
    if status is JobStatus.CANCELED:
        return f"the {kind.value} was canceled while it ran; the instance may be partly changed"
    if status is JobStatus.TIMED_OUT:
        return f"the {kind.value} was stopped: {error}"
    return f"the {kind.value} failed: {error}"


def _settle(settings: Settings, catalog: Catalog, job_id: str, outcome: RunOutcome) -> None:
    with transaction(settings.resolved_database_url) as session:
        job = owned_job(session, job_id=job_id)
        instance = job.instance
        kind = JobKind(job.kind)
        status = _OUTCOME_STATUS.get(outcome.status, JobStatus.FAILED)
        if status is not JobStatus.SUCCEEDED:
            set_state(instance, InstanceState.FAILED, reason=_why(kind, status, outcome.error))
            finish_job(session, job=job, status=status, error=outcome.error)
            return
        if kind is JobKind.REMOVE:
            set_state(instance, InstanceState.REMOVED)
            instance.port = None
            instance.url = None
            instance.health = "unknown"
        else:
            if job.target_version:
                instance.version = job.target_version
            if kind is JobKind.RESET_CREDENTIALS:
                # The new values apply on the server now: the admin may see them, once, again.
                instance.credentials_revealed_at = None
            mark_running(settings, catalog, instance)
        finish_job(session, job=job, status=JobStatus.SUCCEEDED)


def mark_running(settings: Settings, catalog: Catalog, instance: Instance) -> None:
    session = object_session(instance)
    if instance.server is None or instance.url is None or session is None:
        raise RuntimeError("a deployed instance has a server and a URL, and is in a session")
    # Through the server's proxy, by hostname, as a visitor reaches it, its certificate verified.
    instance.health = check_on_server(
        session, settings, catalog.get(instance.template).health, url=instance.url, server=instance.server
    )
    instance.health_checked_at = utcnow()
    set_state(instance, InstanceState.RUNNING)


def _fail(settings: Settings, job_id: str, error: str) -> None:
    with transaction(settings.resolved_database_url) as session:
        job = owned_job(session, job_id=job_id)
        if job.instance.state not in (InstanceState.FAILED, InstanceState.REMOVED):
            set_state(job.instance, InstanceState.FAILED, reason=error)
        finish_job(session, job=job, status=JobStatus.FAILED, error=error)


def execute_job(settings: Settings, catalog: Catalog, job_id: str, *, worker: str) -> None:
    url = settings.resolved_database_url
    with transaction(url) as session:
        claim = claim_job(session, job_id=job_id, worker=worker)
    if claim == ClaimResult.INSTANCE_BUSY:
        raise InstanceBusy(job_id)
    if claim == ClaimResult.NOT_QUEUED:
        log.info("job %s is not queued any more; nothing to do", job_id)
        return
    try:
        with Heartbeat(url, job_id) as heartbeat:
            _run_claimed(settings, catalog, job_id, DatabaseSink(url, job_id, heartbeat=heartbeat))
    except JobLost:
        # The reaper gave the job up while it ran on; the record stays as the reaper wrote it, and
        # what happened since is in the job's events.
        log.warning("job %s was reaped while it ran; its outcome is not recorded", job_id)


def _run_claimed(settings: Settings, catalog: Catalog, job_id: str, sink: DatabaseSink) -> None:
    url = settings.resolved_database_url
    with transaction(url) as session:
        kind = JobKind(session.get_one(Job, job_id).kind)
    if kind in (JobKind.BACKUP, JobKind.RESTORE, JobKind.DRILL):
        # Imported here: those jobs' module builds on this one (its sink, mark_running).
        from provisioner.worker.backup_jobs import execute_backup_job  # noqa: PLC0415

        execute_backup_job(settings, catalog, job_id, kind, sink)
        return
    guarded = GUARDED.get(kind)
    try:
        if guarded is not None:
            # Several runs that undo what failed; they set the instance's states and end the job.
            guarded(settings, catalog, job_id, sink)
            return
        spec = _start(settings, catalog, job_id)
    except IllegalTransition as exc:
        # The instance changed while the job waited (a removal went first, say): nothing to do.
        with transaction(url) as session:
            job = owned_job(session, job_id=job_id)
            finish_job(session, job=job, status=JobStatus.CANCELED, error=f"nothing done: {exc.detail}")
        return
    except JobLost:
        raise
    except Exception as exc:
        log.exception("job %s could not start", job_id)
        _fail(settings, job_id, f"the job could not start: {exc}")
        return
    if spec is None:
        _settle(settings, catalog, job_id, RunOutcome(status="successful", rc=0, error=None))
        return
    try:
        outcome = run_playbook(spec, sink, work_root=settings.data_dir / "runs")
        sink.flush()
        _settle(settings, catalog, job_id, outcome)
    except JobLost:
        raise
    except Exception as exc:
        log.exception("job %s broke down", job_id)
        _fail(settings, job_id, f"the job broke down inside the control plane: {type(exc).__name__}")
