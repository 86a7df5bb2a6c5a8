"""A run's processes end with the run, and a worker killed mid-run leaves nothing running or on disk.

Real ansible-playbook runs against this machine, with a task that sleeps: Ansible runs each task in a
worker process with a session of its own, which killing the run's process group does not reach.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from provisioner.runner.adapter import run_playbook
from provisioner.runner.leftovers import OWNER_FILE, sweep_left_runs
from provisioner.runner.spec import RunnerEvent, RunSpec
from tests.support.processes import alive
from tests.support.runs import local_run

ROOT = Path(__file__).parents[3]
PLAYBOOK = """
- name: Start, then take long
  hosts: all
  gather_facts: false
  tasks:
    - name: Say it started
      ansible.builtin.copy:
        content: started
        dest: "{{ marker }}"
        mode: "0600"
    - name: Take long
      ansible.builtin.command: "sleep {{ seconds }}"
      changed_when: false
"""


def _spec(tmp_path: Path, seconds: int) -> RunSpec:
    variables = {"marker": str(tmp_path / "started"), "seconds": str(seconds)}
    return local_run(tmp_path, "long.yml", PLAYBOOK, variables, timeout=900)


def _sleepers(seconds: int) -> list[int]:
    """Live processes running this test's task (a unique number of seconds names them)."""
    wanted = f"sleep\0{seconds}\0".encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if (entry / "cmdline").read_bytes() == wanted and alive(int(entry.name)):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _until(condition: Callable[[], bool], what: str, *, within: float = 60) -> None:
    """A bounded wait for what other processes do (a bug fails instead of hanging)."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.1)


class CancelOnceStarted:
    def __init__(self, marker: Path) -> None:
        self._marker = marker

    def emit(self, event: RunnerEvent) -> None:
        pass

    def should_cancel(self) -> bool:
        return self._marker.exists()


def test_a_canceled_run_leaves_no_task_running(tmp_path: Path) -> None:
    seconds = 3000 + secrets.randbelow(5000)
    outcome = run_playbook(
        _spec(tmp_path, seconds), CancelOnceStarted(tmp_path / "started"), work_root=tmp_path / "runs"
    )
    assert outcome.status == "canceled"
    _until(lambda: not _sleepers(seconds), "the task's process ended")
    assert list((tmp_path / "runs").iterdir()) == []


WORKER = """
import sys
from pathlib import Path
from provisioner.runner.adapter import run_playbook
from tests.support.sinks import CollectingSink
from tests.provisioner.runner.test_leftovers import _spec
where = Path(sys.argv[1])
run_playbook(_spec(where, int(sys.argv[2])), CollectingSink(), work_root=where / "runs")
"""


def test_a_killed_workers_run_is_stopped_and_its_folder_swept(tmp_path: Path) -> None:
    seconds = 3000 + secrets.randbelow(5000)
    worker = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(WORKER), str(tmp_path), str(seconds)], cwd=ROOT
    )
    try:
        _until(lambda: bool(_sleepers(seconds)), "the run reached its long task")
        (private,) = (tmp_path / "runs").iterdir()
        # A live worker's run is left alone.
        assert sweep_left_runs(tmp_path / "runs") == []
        assert (private / OWNER_FILE).exists()
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        # What the review found: the playbook goes on without its worker, its secrets on disk.
        assert _sleepers(seconds)
        assert (private / "env" / "extravars").exists()

        assert sweep_left_runs(tmp_path / "runs") == [private]
        _until(lambda: not _sleepers(seconds), "the orphaned task's process ended")
        assert not private.exists()
    finally:
        worker.kill()
        worker.wait()
        for pid in _sleepers(seconds):
            os.kill(pid, signal.SIGKILL)
