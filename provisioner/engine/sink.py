"""Where a job's runs report to: events written in small batches, cancel requests and a lost heartbeat
answered, progress lines between runs."""

from __future__ import annotations

import time
from collections.abc import Callable

from provisioner.backups.steps import StepSink
from provisioner.db import transaction
from provisioner.engine.heartbeat import Heartbeat
from provisioner.jobs.service import EventRecord, add_events, cancel_requested
from provisioner.runner.spec import RunnerEvent
from provisioner.timeutil import utcnow


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
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._monotonic = monotonic
        self._url = database_url
        self._job_id = job_id
        self._heartbeat = heartbeat
        self._buffer: list[EventRecord] = []
        self._max_batch = max_batch
        self._max_delay = max_delay
        self._cancel_poll = cancel_poll
        self._last_flush = self._last_poll = monotonic()
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
        now = self._monotonic()
        if self._buffer and now - self._last_flush >= self._max_delay:
            self.flush()
        if not self._canceled and now - self._last_poll >= self._cancel_poll:
            self._last_poll = now
            with transaction(self._url) as session:
                self._canceled = cancel_requested(session, job_id=self._job_id)
        return self._canceled or self.lost

    def flush(self) -> None:
        self._last_flush = self._monotonic()
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        with transaction(self._url) as session:
            add_events(session, job_id=self._job_id, events=batch)  # also beats the heart


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
