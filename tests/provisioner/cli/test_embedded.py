"""``provisioner up`` stops everything it started on SIGTERM, as a service manager or ``docker stop``
sends it: the API, the worker, its pool and its scheduler.

The real command on a data folder of its own (SQLite, the embedded broker).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support.processes import alive, descendants, kill_tree
from tests.support.stack import free_port

ROOT = Path(__file__).parents[3]


def _until(condition: Callable[[], bool], what: str, *, within: float) -> None:
    """A bounded wait for what other processes do (a bug fails instead of hanging)."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.2)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _started(tmp_path: Path) -> tuple[subprocess.Popen[bytes], set[int]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVISIONER_")}
    env |= {"PROVISIONER_DATA_DIR": str(tmp_path / "data"), "PROVISIONER_ENVIRONMENT": "development"}
    port = free_port()
    with (tmp_path / "up.log").open("ab") as log:
        up = subprocess.Popen(
            [sys.executable, "-m", "provisioner", "up", "--port", str(port)],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    _until(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), "the API answered", within=120)
    # The worker with its pool (two) and its scheduler (a process of its own under prefork).
    _until(lambda: len(descendants(up.pid)) >= 3, "the worker started its pool", within=120)
    return up, descendants(up.pid)


@pytest.mark.parametrize("to_group", [False, True], ids=["to-the-command", "to-its-process-group"])
def test_sigterm_stops_the_whole_embedded_stack(tmp_path: Path, to_group: bool) -> None:
    up, started = _started(tmp_path)
    try:
        if to_group:
            os.killpg(up.pid, signal.SIGTERM)
        else:
            up.send_signal(signal.SIGTERM)
        # Generous bounds: the command gives the worker 10 s before it ends it.
        up.wait(timeout=120)
        _until(lambda: not any(alive(pid) for pid in started), "every process it started ended", within=60)
        assert up.returncode == 0, (tmp_path / "up.log").read_text()[-2000:]
    finally:
        for pid in started:
            if alive(pid):
                kill_tree(pid)
        if up.poll() is None:
            kill_tree(up.pid)
            up.wait()
