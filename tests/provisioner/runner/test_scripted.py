"""The scripted runner answers as the test wrote, and honours the sink as ansible-runner does."""

from __future__ import annotations

from pathlib import Path

from provisioner.runner.scripted import CANCELED, ScriptedRunner, fails, succeeds, times_out
from provisioner.runner.spec import HostSpec, RunSpec
from tests.support.sinks import CollectingSink

HOST = HostSpec(name="s1", address="192.0.2.10", port=22, user="root", connection="ssh", host_key=None)


def _spec(playbook: str) -> RunSpec:
    return RunSpec(playbook=playbook, playbooks_dir=Path("/nowhere"), host=HOST, variables={})


class CancelingSink(CollectingSink):
    def __init__(self, after: int) -> None:
        super().__init__()
        self._after = after

    def should_cancel(self) -> bool:
        return len(self.events) >= self._after


def test_runs_are_answered_in_order_then_by_the_answer() -> None:
    runner = ScriptedRunner(fails("broken"), answer=lambda spec: times_out())
    sink = CollectingSink()

    outcomes = [runner.run(_spec(name), sink).status for name in ("deploy.yml", "remove.yml", "x.yml")]

    assert outcomes == ["failed", "timeout", "timeout"]
    assert runner.playbooks == ["deploy.yml", "remove.yml", "x.yml"]
    assert [event.line for event in sink.events] == ["broken"]


def test_each_task_is_an_event_of_the_run_and_a_failure_ends_with_its_line() -> None:
    sink = CollectingSink()

    ScriptedRunner(fails("fatal: no space", "Pull", "Start")).run(_spec("deploy.yml"), sink)

    assert [(e.seq, e.status, e.line) for e in sink.events] == [
        (1, "ok", "ok: [s1] Pull"),
        (2, "ok", "ok: [s1] Start"),
        (3, "failed", "fatal: no space"),
    ]


def test_a_run_stops_canceled_as_soon_as_the_sink_asks() -> None:
    sink = CancelingSink(after=1)
    happened: list[str] = []

    outcome = ScriptedRunner(succeeds("Pull", "Start", during=happened.append)).run(_spec("d.yml"), sink)

    assert outcome == CANCELED
    assert len(sink.events) == 1
    assert happened == []
