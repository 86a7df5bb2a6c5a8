from __future__ import annotations

import socket
from datetime import timedelta
from typing import Any

from celery.signals import worker_process_init, worker_ready

from provisioner.config import get_settings
from provisioner.db import transaction
from provisioner.engine.execute import InstanceBusy, execute_job
from provisioner.engine.unfinished import reap_lost
from provisioner.engine.wiring import real_context
from provisioner.exports.service import expire_exports
from provisioner.idempotency import purge_expired
from provisioner.jobs.queue import commit_and_send
from provisioner.jobs.service import stale_queued_jobs
from provisioner.offboarding.service import start_due
from provisioner.runner.leftovers import sweep_left_runs
from provisioner.timeutil import utcnow
from provisioner.worker.celery_app import (
    EXPIRE_EXPORTS,
    PURGE_KEYS,
    REAP,
    REDISPATCH,
    RUN_JOB,
    START_OFFBOARDINGS,
    app,
)
from provisioner.worker.dispatch import CeleryDispatcher


@worker_ready.connect  # type: ignore[untyped-decorator]
@worker_process_init.connect  # type: ignore[untyped-decorator]
def sweep_runs_of_dead_workers(**_: Any) -> None:
    """A worker killed in the middle of a job left its playbook running and its secrets on disk."""
    sweep_left_runs(get_settings().data_dir / "runs")


@app.task(name=RUN_JOB, bind=True, max_retries=None)  # type: ignore[untyped-decorator]
def run_job(self: Any, job_id: str) -> None:
    try:
        execute_job(
            real_context(get_settings()), job_id, worker=f"{socket.gethostname()}:{self.request.hostname}"
        )
    except InstanceBusy as busy:
        # Another job holds the instance; this one waits its turn in the queue.
        raise self.retry(countdown=3) from busy


@app.task(name=REDISPATCH)  # type: ignore[untyped-decorator]
def redispatch_stale_jobs() -> int:
    settings = get_settings()
    url = settings.resolved_database_url
    cutoff = utcnow() - timedelta(seconds=settings.redispatch_after_seconds)
    with transaction(url) as session:
        job_ids = list(stale_queued_jobs(session, older_than=cutoff))
        dispatcher = CeleryDispatcher(settings.resolved_broker_url)
        for job_id in job_ids:
            dispatcher.send(session, job_id)
    return len(job_ids)


@app.task(name=REAP)  # type: ignore[untyped-decorator]
def reap_lost_jobs_task() -> int:
    """Jobs whose worker died (killed, machine lost) end as failed instead of running forever."""
    settings = get_settings()
    cutoff = utcnow() - timedelta(seconds=settings.worker_lost_after_seconds)
    reaped = reap_lost(settings, silent_since=cutoff)
    if reaped:
        # The reaped job's worker may have died on this machine (always so in the embedded mode).
        sweep_left_runs(settings.data_dir / "runs")
    return len(reaped)


@app.task(name=EXPIRE_EXPORTS)  # type: ignore[untyped-decorator]
def expire_exports_task() -> int:
    """Export archives are deleted when their time is up (a download link lasts that long)."""
    settings = get_settings()
    with transaction(settings.resolved_database_url) as session:
        return expire_exports(session, settings)


@app.task(name=PURGE_KEYS)  # type: ignore[untyped-decorator]
def purge_idempotency_keys() -> int:
    with transaction(get_settings().resolved_database_url) as session:
        return purge_expired(session)


@app.task(name=START_OFFBOARDINGS)  # type: ignore[untyped-decorator]
def start_offboardings_task() -> int:
    """An association's offboarding starts once its waiting period is over (and no job of it runs);
    its kept backups are deleted once the lab's retention is over."""
    settings = get_settings()
    with transaction(settings.resolved_database_url) as session:
        start_due(session)
        return len(commit_and_send(session, CeleryDispatcher(settings.resolved_broker_url)))
