"""The Celery application. Tasks carry only a job id; the job row holds everything else."""

from __future__ import annotations

import warnings
from typing import Any

from celery import Celery, bootsteps
from sqlalchemy.exc import SADeprecationWarning

from provisioner.config import Settings, get_settings

QUEUE = "provisioner"
RUN_JOB = "provisioner.run_job"
REDISPATCH = "provisioner.redispatch_stale_jobs"
REAP = "provisioner.reap_lost_jobs"
PURGE_KEYS = "provisioner.purge_idempotency_keys"
# Monitoring: schedules, health sweeps, server metrics, alert notices.
RUN_SCHEDULES = "provisioner.run_schedules"
HEALTH_SWEEP = "provisioner.health_sweep"
COLLECT_METRICS = "provisioner.collect_server_metrics"
DELIVER_ALERTS = "provisioner.deliver_alerts"
DELIVER_NOTICES = "provisioner.deliver_notices"
# Retention on REST backup targets, where the servers may only append.
PRUNE_BACKUPS = "provisioner.prune_backups"
# Export archives deleted once their time is up.
EXPIRE_EXPORTS = "provisioner.expire_exports"
# Offboardings whose waiting period is over, and kept backups whose retention is, get their job.
START_OFFBOARDINGS = "provisioner.start_offboardings"

# kombu's SQL transport (the embedded broker) maps its queue's link to the messages with
# lazy="noload", which SQLAlchemy 2.1 deprecates. kombu never follows that link, so the warning says
# nothing about this installation; until kombu changes it, exactly that message from kombu is kept out
# of every start.
warnings.filterwarnings(
    "ignore",
    message="The ``noload`` loader strategy is deprecated",
    category=SADeprecationWarning,
    module=r"kombu\.transport\.sqlalchemy",
)


def _transport_options(settings: Settings) -> dict[str, int]:
    if settings.resolved_broker_url.startswith(("redis://", "rediss://")):
        # Redis hands an unacked message to another worker after this long; it must exceed the longest job.
        return {"visibility_timeout": settings.job_timeout_seconds * 2 + 600}
    return {}


# How long the worker sleeps before it asks the embedded broker (kombu's SQL transport, which only polls)
# again. kombu's 1 s applies also each time the worker holds as many unacknowledged messages as its
# prefetch allows, which with late acks is the case while a job runs: the scheduler's ticks then came
# in at about one a second, and a job sent after two long jobs waited behind their backlog (17 s
# seen). Asking every 0.1 s costs the idle worker about 2 % of a core (0.6 % at 1 s).
SQL_BROKER_POLL_SECONDS = 0.1


class QuickSqlPolling(bootsteps.StartStopStep):  # type: ignore[misc]  # celery ships no types
    """Sets the SQL transport's poll interval on the worker's connection, each time it is made: kombu
    hands every transport option of that transport to SQLAlchemy's create_engine, which refuses it."""

    requires = ("celery.worker.consumer.connection:Connection",)

    def start(self, parent: object) -> None:
        transport = parent.connection.transport  # type: ignore[attr-defined]
        if transport.driver_type == "sql":
            transport.polling_interval = SQL_BROKER_POLL_SECONDS


# A periodic tick this old is dropped, however short its interval: a moment's wait on a busy machine keeps
# the tick, a backlog of jobs does not.
TICK_GRACE_SECONDS = 60.0


def _periodic(task: str, every: float) -> dict[str, Any]:
    """A periodic sweep. Each tick does the whole sweep, so a tick that waited behind a backlog of jobs
    for longer than its interval (and a minute) is dropped when it arrives, instead of running late
    with the others that waited: the worker discards a message past its expiry."""
    return {"task": task, "schedule": every, "options": {"expires": max(every, TICK_GRACE_SECONDS)}}


def make_celery(settings: Settings) -> Celery:
    app = Celery(
        "provisioner",
        broker=settings.resolved_broker_url,
        include=["provisioner.worker.tasks", "provisioner.worker.monitoring_tasks"],
    )
    app.conf.update(
        task_default_queue=QUEUE,
        # Ack after the job ran: a message is not lost with a dying worker. The atomic claim on the job
        # row makes a second delivery harmless, and a redispatch loop re-sends jobs whose message vanished.
        task_acks_late=True,
        task_reject_on_worker_lost=False,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options=_transport_options(settings),
        worker_hijack_root_logger=False,
        beat_schedule={
            name: _periodic(task, every)
            for name, task, every in [
                ("redispatch-stale-jobs", REDISPATCH, 15.0),
                ("reap-lost-jobs", REAP, 10.0),
                ("purge-idempotency-keys", PURGE_KEYS, 3600.0),
                ("run-schedules", RUN_SCHEDULES, 15.0),
                ("health-sweep", HEALTH_SWEEP, settings.health_sweep_seconds),
                ("collect-server-metrics", COLLECT_METRICS, settings.metrics_interval_seconds),
                ("deliver-alerts", DELIVER_ALERTS, 10.0),
                ("deliver-notices", DELIVER_NOTICES, 5.0),
                ("prune-backups", PRUNE_BACKUPS, settings.backup_prune_interval_seconds),
                ("expire-exports", EXPIRE_EXPORTS, 300.0),
                ("start-offboardings", START_OFFBOARDINGS, 300.0),
            ]
        },
        beat_schedule_filename=str(settings.data_dir / "beat-schedule"),
    )
    app.steps["consumer"].add(QuickSqlPolling)
    return app


app = make_celery(get_settings())
