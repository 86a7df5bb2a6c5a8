"""``provisioner healthcheck``: the exit codes compose reads. The healthy worker and scheduler are
checked against a running production stack in tests/e2e/test_monitoring.py."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from provisioner.cli.healthcheck import BEAT_STALE_SECONDS, app
from provisioner.config import get_settings


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("PROVISIONER_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()  # the settings of this test stay with it


def test_beat_is_healthy_while_it_writes_its_schedule(data_dir: Path) -> None:
    (data_dir / "beat-schedule.db").write_bytes(b"")
    result = CliRunner().invoke(app, ["beat"])
    assert result.exit_code == 0, result.output


def test_beat_is_unhealthy_without_a_schedule_file(data_dir: Path) -> None:
    result = CliRunner().invoke(app, ["beat"])
    assert result.exit_code == 1
    assert "no schedule file" in result.output


def test_beat_is_unhealthy_when_its_schedule_is_stale(data_dir: Path) -> None:
    schedule = data_dir / "beat-schedule"
    schedule.write_bytes(b"")
    stale = time.time() - BEAT_STALE_SECONDS - 60
    os.utime(schedule, (stale, stale))
    result = CliRunner().invoke(app, ["beat"])
    assert result.exit_code == 1
    assert "last written" in result.output


def test_worker_is_unhealthy_when_no_worker_answers(tmp_path: Path, redis_url: str) -> None:
    # In a process of its own: the Celery app reads the broker from the settings when it is imported.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PROVISIONER_")}
    env |= {"PROVISIONER_DATA_DIR": str(tmp_path), "PROVISIONER_BROKER_URL": redis_url}
    done = subprocess.run(
        [sys.executable, "-m", "provisioner", "healthcheck", "worker", "--timeout", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "did not answer within 1 s" in done.stderr
