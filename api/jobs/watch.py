"""One database read for every job the live streams of this process follow.

Each stream waits here until its job has news (a new event, or its end) instead of reading the job
itself every poll: with hundreds of streams open the database sees one small query per poll interval,
plus each stream's own read when there is something to send or its credentials are due to be checked.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import anyio
from anyio import to_thread
from sqlalchemy import func, select

from provisioner.db import session_factory
from provisioner.jobs.states import FINISHED
from provisioner.models import Job, JobEvent

POLL_SECONDS = 1.0
# Threads (and so database connections) all streams of one process share for their reads.
READER_THREADS = 4

_readers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)


def reader_limiter() -> anyio.CapacityLimiter:
    """The few threads the streams' reads share: however many streams are open, the other requests keep
    the thread pool and the connection pool. A limiter belongs to the event loop that made it."""
    loop = asyncio.get_running_loop()
    limiter = _readers.get(loop)
    if limiter is None:
        limiter = _readers[loop] = anyio.CapacityLimiter(READER_THREADS)
    return limiter


@dataclass(frozen=True)
class _Seen:
    finished: bool
    last_seq: int


class JobWatch:
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._followers: Counter[str] = Counter()
        self._seen: dict[str, _Seen] = {}
        self._changed: dict[str, anyio.Event] = {}
        self._task: asyncio.Task[None] | None = None

    async def news(self, job_id: str, *, after: int, timeout: float) -> None:
        """Returns once the job has events past ``after`` or has ended, or after ``timeout`` seconds."""
        self._followers[job_id] += 1
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        try:
            with anyio.move_on_after(timeout):
                while not self._has_news(job_id, after):
                    await self._changed.setdefault(job_id, anyio.Event()).wait()
        finally:
            self._followers[job_id] -= 1
            if self._followers[job_id] <= 0:
                del self._followers[job_id]
                self._seen.pop(job_id, None)

    def _has_news(self, job_id: str, after: int) -> bool:
        seen = self._seen.get(job_id)
        return seen is not None and (seen.finished or seen.last_seq > after)

    async def _run(self) -> None:
        while self._followers:
            jobs = list(self._followers)
            seen = await to_thread.run_sync(self._read, jobs, limiter=reader_limiter())
            for job_id, state in seen.items():
                if self._seen.get(job_id) != state and job_id in self._followers:
                    self._seen[job_id] = state
                    event = self._changed.pop(job_id, None)
                    if event is not None:
                        event.set()
            await anyio.sleep(POLL_SECONDS)

    def _read(self, jobs: Sequence[str]) -> dict[str, _Seen]:
        with session_factory(self.database_url)() as session:
            rows = session.execute(
                select(Job.id, Job.status, func.coalesce(func.max(JobEvent.seq), 0))
                .outerjoin(JobEvent, JobEvent.job_id == Job.id)
                .where(Job.id.in_(jobs))
                .group_by(Job.id, Job.status)
            ).all()
        return {job_id: _Seen(finished=status in FINISHED, last_seq=last) for job_id, status, last in rows}


_watches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, JobWatch]] = (
    weakref.WeakKeyDictionary()
)


def job_watch(database_url: str) -> JobWatch:
    """The watch of this event loop (tests start one per client) for the database."""
    per_loop = _watches.setdefault(asyncio.get_running_loop(), {})
    if database_url not in per_loop:
        per_loop[database_url] = JobWatch(database_url)
    return per_loop[database_url]
