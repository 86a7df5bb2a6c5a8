"""A running job's heartbeat, written on its own thread for the job's whole life.

A job is silent for long stretches outside any playbook run (a health wait after an update, a backup
being checked), and the reaper takes a job whose heartbeat is older than the worker-lost window for
lost. Beating on a thread of its own keeps the job alive however long a step takes, and tells the
job when the reaper gave it up anyway (the database was unreachable for too long, say): the job then
stops its playbook instead of changing a server on behalf of a job that has ended.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from provisioner.db import transaction
from provisioner.jobs.service import beat_heart

log = logging.getLogger(__name__)

# Well inside the shortest sensible worker-lost window (docs/jobs.md: at least every 5 seconds).
BEAT_EVERY_SECONDS = 5.0


class Heartbeat:
    """``with Heartbeat(url, job_id): ...`` beats until the block ends; ``lost`` once the job is gone."""

    def __init__(self, database_url: str, job_id: str, *, every: float = BEAT_EVERY_SECONDS) -> None:
        self._url = database_url
        self._job_id = job_id
        self._every = every
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id}", daemon=True)

    @property
    def lost(self) -> bool:
        return self._lost.is_set()

    def beat(self) -> None:
        """One beat; marks the job lost when it runs no more."""
        try:
            with transaction(self._url) as session:
                alive = beat_heart(session, job_id=self._job_id)
        except Exception:
            # A database that does not answer for a moment is no reason to give the job up: the
            # reaper decides, and the next beat tells.
            log.warning("heartbeat of job %s not written", self._job_id, exc_info=True)
            return
        if not alive:
            log.warning("job %s runs no more (reaped or ended); stopping its work", self._job_id)
            self._lost.set()

    def _run(self) -> None:
        while not self._stop.wait(self._every) and not self._lost.is_set():
            self.beat()

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
