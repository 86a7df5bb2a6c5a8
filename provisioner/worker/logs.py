"""JSON log lines for the worker and the scheduler (see ``provisioner.logs``)."""

from __future__ import annotations

import logging
import logging.config
from typing import Any

from celery import signals

from provisioner.config import Settings
from provisioner.logs import job_id, logging_config, quiet_request_logs

log = logging.getLogger(__name__)


def use_for_celery(settings: Settings, *, job_task: str) -> list[str]:
    """Before a worker or scheduler starts: JSON lines instead of Celery's own setup, and the job's id
    on the lines of the task that runs it. Answers the options to put before Celery's command."""
    quiet_request_logs()
    config = logging_config(settings)
    if config is None:
        return []

    def configure(**_: Any) -> None:
        logging.config.dictConfig(config)
        # Python's warnings (Celery warns about running as root) become JSON lines too.
        logging.captureWarnings(True)

    # At once, for what is said before Celery's own setup, and again when Celery would set its own up.
    configure()

    def enter_job(task: Any, args: tuple[Any, ...] = (), **_: Any) -> None:
        if task.name == job_task and args:
            job_id.set(str(args[0]))
            log.info("taking the job")

    def leave_job(task: Any, **_: Any) -> None:
        if task.name == job_task:
            log.info("done with the job")
        job_id.set(None)

    # Celery skips its own logging setup when anything listens to this signal.
    signals.setup_logging.connect(configure, weak=False)
    signals.task_prerun.connect(enter_job, weak=False)
    signals.task_postrun.connect(leave_job, weak=False)
    # Without its banner, which Celery prints on standard output: nothing but JSON lines comes out.
    return ["--quiet"]
