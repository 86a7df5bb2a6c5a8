"""Live job events (Server-Sent Events) that no caller can use to stall the API.

A stream waits in the event loop (an async generator), never in one of the thread pool's threads, and
holds no database connection while it waits: one watch per process reads every followed job's progress
in one query (``api/jobs/watch.py``), and a stream reads its events in a short session of its own, through
a few threads kept for streams, only when its job has news or its credentials are due to be checked
again. However many streams are open, the other requests keep the thread pool and the connection pool.
A caller may hold a few streams at a time (429 beyond); a revoked token, an ended session or a disabled
person ends the stream within ``RECHECK_SECONDS``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

import anyio
from anyio import to_thread
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from api.jobs import convert
from api.jobs.watch import job_watch, reader_limiter
from api.presented import Presented
from provisioner.auth.actor import Actor
from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.errors import DomainError, TooManyRequests
from provisioner.jobs import service
from provisioner.jobs.states import FINISHED
from provisioner.models import JobEvent

log = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 15
# How often a waiting stream checks its caller's credentials again (a revoked token ends it within this).
RECHECK_SECONDS = 5.0
EVENTS_PER_READ = 500


class StreamSlots:
    """How many streams each caller holds open in this process."""

    def __init__(self, per_caller: int) -> None:
        self.per_caller = per_caller
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()

    def take(self, principal: str) -> None:
        with self._lock:
            if self._open[principal] >= self.per_caller:
                raise TooManyRequests(
                    f"these credentials already follow {self.per_caller} live streams, the most allowed; "
                    "close one, or read the events as JSON",
                    retry_after=KEEPALIVE_SECONDS,
                )
            self._open[principal] += 1

    def give_back(self, principal: str) -> None:
        with self._lock:
            self._open[principal] -= 1
            if self._open[principal] <= 0:
                del self._open[principal]

    def held(self, principal: str) -> int:
        with self._lock:
            return self._open[principal]


class _LiveStream(StreamingResponse):
    """Gives the caller's slot back however the stream ends, also when it never started."""

    def __init__(self, content: AsyncIterator[str], *, release: Callable[[], None]) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


def as_json(row: JobEvent) -> str:
    return convert.event(row).model_dump_json()


def job_event_stream(
    request: Request, *, actor: Actor, job_id: str, after: int, payload: Callable[[JobEvent], str] = as_json
) -> StreamingResponse:
    """The job's events from ``after`` on until the job has ended; 429 past the caller's streams."""
    slots: StreamSlots = request.app.state.stream_slots
    settings: Settings = request.app.state.settings
    slots.take(actor.principal)
    follow = _Follow(settings.resolved_database_url, Presented.of(request.headers), actor, job_id)
    events = _events(follow, after, payload)
    return _LiveStream(events, release=lambda: slots.give_back(actor.principal))


@dataclass(frozen=True)
class _Read:
    finished: bool
    events: Sequence[JobEvent]


@dataclass(frozen=True)
class _Follow:
    """One job followed by one caller."""

    database_url: str
    presented: Presented
    actor: Actor
    job_id: str

    def read(self, after: int) -> _Read | None:
        """What is new, in one short session; None once the credentials no longer stand for the actor."""
        with session_factory(self.database_url)() as session:
            if self.presented.actor(session) != self.actor:
                return None
            try:
                # The job's end first: the worker commits its last events before it, so they are all
                # visible to the read that follows, and none is skipped by ending the stream.
                job = service.get_job(session, actor=self.actor, job_id=self.job_id)
                events = service.list_events(
                    session, actor=self.actor, job_id=self.job_id, after=after, limit=EVENTS_PER_READ
                )
            except DomainError:
                return None
            return _Read(finished=job.status in FINISHED, events=events)


async def _events(follow: _Follow, after: int, payload: Callable[[JobEvent], str]) -> AsyncIterator[str]:
    end = json.dumps({"job": follow.job_id})
    last_sent = anyio.current_time()
    while True:
        try:
            read = await to_thread.run_sync(follow.read, after, limiter=reader_limiter())
        except PoolTimeout:
            # The lab is busy and no database connection was free in time. Nothing was read, so
            # nothing is missed or sent unchecked: the stream asks again at its next check rather
            # than ending with an error in the middle of its answer.
            log.warning("no database connection was free for a live stream in time; it waits")
            read = _Read(finished=False, events=())
        if read is None:
            yield f"event: revoked\ndata: {end}\n\n"
            return
        for row in read.events:
            after = row.seq
            yield f"id: {row.seq}\nevent: job-event\ndata: {payload(row)}\n\n"
            last_sent = anyio.current_time()
        if read.finished and not read.events:
            yield f"event: end\ndata: {end}\n\n"
            return
        if len(read.events) == EVENTS_PER_READ:
            continue  # more are waiting
        if anyio.current_time() - last_sent > KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            last_sent = anyio.current_time()
        await job_watch(follow.database_url).news(follow.job_id, after=after, timeout=RECHECK_SECONDS)
