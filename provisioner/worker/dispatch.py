"""Sends jobs to the workers. A failed send is logged, not raised: the redispatch loop retries it."""

from __future__ import annotations

import logging
from functools import lru_cache

from celery import Celery
from sqlalchemy import update
from sqlalchemy.orm import Session

from provisioner.models import Job
from provisioner.timeutil import utcnow
from provisioner.worker.celery_app import QUEUE, RUN_JOB

log = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def _producer(broker_url: str) -> Celery:
    app = Celery("provisioner-producer", broker=broker_url)
    app.conf.broker_connection_retry_on_startup = True
    return app


class CeleryDispatcher:
    def __init__(self, broker_url: str) -> None:
        self._broker_url = broker_url

    def send(self, session: Session, job_id: str) -> None:
        """Send after the job row is committed, so a worker always finds it."""
        try:
            _producer(self._broker_url).send_task(RUN_JOB, args=[job_id], queue=QUEUE)
        except Exception:  # the broker may be down; the job stays queued and is sent again later
            log.warning("could not send job %s to the broker; it will be sent again", job_id, exc_info=True)
            return
        session.execute(update(Job).where(Job.id == job_id).values(dispatched_at=utcnow()))
        session.commit()


def broker_reachable(broker_url: str) -> bool:
    try:
        with _producer(broker_url).connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
    except Exception:  # any failure to connect means "not reachable" to a readiness probe
        return False
    return True


def declare_queue(broker_url: str) -> None:
    """Create the job queue before several processes start using it at once.

    The SQL transport of the embedded mode creates a queue row on first use; the API, the worker and
    its scheduler doing that together can collide on the row's unique name.
    """
    with _producer(broker_url).connection_for_write() as connection:
        connection.default_channel.queue_declare(queue=QUEUE, durable=True, auto_delete=False)
