"""A ``Runner`` whose runs the caller writes: events and outcome given, nothing started.

It stands beside the real ``AnsibleRunner`` as httpx's ``MockTransport`` stands beside its network
transport, so the job engine can be driven through every path (a failing step, a cancel, a timeout,
the reaper taking the job mid-run) without Ansible, SSH or Docker. It honours the sink as
ansible-runner does: it asks ``should_cancel`` after every event and stops with ``canceled``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from provisioner.runner.spec import EventSink, RunnerEvent, RunOutcome, RunSpec
from provisioner.timeutil import utcnow

CANCELED = RunOutcome(status="canceled", rc=None, error="canceled while running")


@dataclass(frozen=True)
class ScriptedRun:
    """One run: the tasks it reports (each an ``ok`` event), then its outcome.

    ``during`` is called after the tasks, before the outcome: what happens elsewhere while the run
    goes on (someone asks to cancel, the reaper gives the job up).
    """

    outcome: RunOutcome
    tasks: tuple[str, ...] = ()
    events: tuple[RunnerEvent, ...] = ()
    during: Callable[[RunSpec], None] | None = None


def succeeds(*tasks: str, during: Callable[[RunSpec], None] | None = None) -> ScriptedRun:
    return ScriptedRun(RunOutcome(status="successful", rc=0, error=None), tasks, during=during)


def fails(error: str, *tasks: str, during: Callable[[RunSpec], None] | None = None) -> ScriptedRun:
    return ScriptedRun(RunOutcome(status="failed", rc=2, error=error), tasks, during=during)


def times_out(*tasks: str) -> ScriptedRun:
    error = "it ran longer than its time limit, or printed nothing for longer than its idle limit"
    return ScriptedRun(RunOutcome(status="timeout", rc=254, error=error), tasks)


class ScriptedRunner:
    """Answers runs with ``runs`` in order, then with ``answer(spec)`` (a success unless given)."""

    def __init__(self, *runs: ScriptedRun, answer: Callable[[RunSpec], ScriptedRun] | None = None) -> None:
        self._queue = list(runs)
        self._answer = answer or (lambda spec: succeeds())
        self.ran: list[RunSpec] = []

    @property
    def playbooks(self) -> list[str]:
        return [spec.playbook for spec in self.ran]

    def run(self, spec: RunSpec, sink: EventSink) -> RunOutcome:
        self.ran.append(spec)
        run = self._queue.pop(0) if self._queue else self._answer(spec)
        events = list(run.events) + [_ok(spec, seq, task) for seq, task in enumerate(run.tasks, start=1)]
        if run.outcome.status == "failed" and run.outcome.error:
            events.append(_failed(spec, len(events) + 1, run.outcome.error))
        for event in events:
            sink.emit(event)
            if sink.should_cancel():
                return CANCELED
        if run.during is not None:
            run.during(spec)
        if sink.should_cancel():
            return CANCELED
        return run.outcome


def _ok(spec: RunSpec, seq: int, task: str) -> RunnerEvent:
    line = f"ok: [{spec.host.name}] {task}"
    return RunnerEvent(seq, utcnow(), spec.host.name, task, "ok", line, line)


def _failed(spec: RunSpec, seq: int, error: str) -> RunnerEvent:
    return RunnerEvent(seq, utcnow(), spec.host.name, None, "failed", error, error)
