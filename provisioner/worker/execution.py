"""Runs one job: claim it, build its run spec, run the playbook, stream events, record the outcome."""

from __future__ import annotations

import logging
import time

from provisioner.catalog.loader import Catalog
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.deployments.plan import build_run_spec, instance_url
from provisioner.errors import IllegalTransition
from provisioner.health.probe import probe
from provisioner.instances.service import set_state
from provisioner.instances.states import InstanceState
from provisioner.jobs.service import ClaimResult, EventRecord, add_events, claim_job, finish_job
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.models import Instance, Job
from provisioner.runner.adapter import run_playbook
from provisioner.runner.spec import RunnerEvent, RunOutcome, RunSpec
from provisioner.timeutil import utcnow

log = logging.getLogger(__name__)

_OUTCOME_STATUS = {
    "successful": JobStatus.SUCCEEDED,
    "canceled": JobStatus.CANCELED,
    "timeout": JobStatus.TIMED_OUT,
}


class InstanceBusy(Exception):
    pass


class DatabaseSink:
    """Collects runner events and writes them in small batches, so a chatty playbook is not slowed."""

    def __init__(
        self, database_url: str, job_id: str, *, max_batch: int = 50, max_delay: float = 0.5
    ) -> None:
        self._url = database_url
        self._job_id = job_id
        self._buffer: list[EventRecord] = []
        self._last_flush = time.monotonic()
        self._max_batch = max_batch
        self._max_delay = max_delay

    def emit(self, event: RunnerEvent) -> None:
        self._buffer.append(
            EventRecord(
                seq=event.seq,
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
        # ansible-runner polls this often; it is also the moment to write events that have waited.
        if self._buffer and time.monotonic() - self._last_flush >= self._max_delay:
            self.flush()
        return False

    def flush(self) -> None:
        self._last_flush = time.monotonic()
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        with transaction(self._url) as session:
            add_events(session, job_id=self._job_id, events=batch)


def _start(settings: Settings, catalog: Catalog, job_id: str) -> RunSpec | None:
    """Move the instance into its working state and build the spec; None when there is nothing to run."""
    with transaction(settings.resolved_database_url) as session:
        job = session.get_one(Job, job_id)
        instance = job.instance
        kind = JobKind(job.kind)
        if kind is JobKind.DEPLOY:
            set_state(instance, InstanceState.PROVISIONING)
        if instance.server is None:
            return None
        return build_run_spec(settings, catalog, instance, kind)


def _settle(settings: Settings, catalog: Catalog, job_id: str, outcome: RunOutcome) -> None:
    with transaction(settings.resolved_database_url) as session:
        job = session.get_one(Job, job_id)
        instance = job.instance
        kind = JobKind(job.kind)
        if outcome.status != "successful":
            set_state(instance, InstanceState.FAILED, reason=outcome.error)
            finish_job(
                session,
                job=job,
                status=_OUTCOME_STATUS.get(outcome.status, JobStatus.FAILED),
                error=outcome.error,
            )
            return
        if kind is JobKind.DEPLOY:
            _mark_running(catalog, instance)
        else:
            set_state(instance, InstanceState.REMOVED)
            instance.port = None
            instance.url = None
            instance.health = "unknown"
        finish_job(session, job=job, status=JobStatus.SUCCEEDED)


def _mark_running(catalog: Catalog, instance: Instance) -> None:
    if instance.server is None or instance.port is None:
        raise RuntimeError("a deployed instance has a server and a port")
    health = catalog.get(instance.template).health
    url = instance_url(instance.server, instance.port)
    instance.url = url
    instance.health = probe(url.rstrip("/") + health.path, expect_status=health.expect_status)
    instance.health_checked_at = utcnow()
    set_state(instance, InstanceState.RUNNING)


def _fail(settings: Settings, job_id: str, error: str) -> None:
    with transaction(settings.resolved_database_url) as session:
        job = session.get_one(Job, job_id)
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
        spec = _start(settings, catalog, job_id)
    except IllegalTransition as exc:
        # Something else happened to the instance meanwhile (it was removed, say): this job is moot.
        with transaction(url) as session:
            finish_job(session, job=session.get_one(Job, job_id), status=JobStatus.CANCELED, error=exc.detail)
        return
    except Exception as exc:
        log.exception("job %s could not start", job_id)
        _fail(settings, job_id, f"the job could not start: {exc}")
        return
    if spec is None:
        _settle(settings, catalog, job_id, RunOutcome(status="successful", rc=0, error=None))
        return
    sink = DatabaseSink(url, job_id)
    try:
        outcome = run_playbook(spec, sink, work_root=settings.data_dir / "runs")
        sink.flush()
        _settle(settings, catalog, job_id, outcome)
    except Exception as exc:
        log.exception("job %s broke down", job_id)
        _fail(settings, job_id, f"the job broke down inside the control plane: {type(exc).__name__}")
