"""The worker's start and the reaper sweep the runs a killed worker left (its secrets on disk); a job
whose instance another job holds goes back to the queue."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from celery.exceptions import Retry
from celery.signals import worker_process_init, worker_ready
from celery.utils.dispatch import Signal

from provisioner.config import get_settings
from provisioner.db import session_factory
from provisioner.engine.execute import InstanceBusy
from provisioner.jobs.service import claim_job
from provisioner.models import Job
from provisioner.runner.leftovers import OWNER_FILE
from provisioner.timeutil import utcnow
from provisioner.worker import tasks
from tests.provisioner.jobs.test_service import _approved_job


@pytest.fixture
def data_dir(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("PROVISIONER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PROVISIONER_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _left_run(data_dir: Path) -> Path:
    """A run folder whose worker process is gone: a pid that names no process started then."""
    private = data_dir / "runs" / "run-left"
    (private / "env").mkdir(parents=True)
    (private / "env" / "extravars").write_text("db_password: !unsafe 'secret'\n")
    owner = {"host": socket.gethostname(), "pid": 2**22 + 1, "started": "0"}
    (private / OWNER_FILE).write_text(json.dumps(owner))
    return private


@pytest.mark.parametrize("signal", [worker_ready, worker_process_init], ids=["worker", "pool-process"])
def test_a_starting_worker_sweeps_left_runs(data_dir: Path, signal: Signal) -> None:
    private = _left_run(data_dir)
    signal.send(sender=None)
    assert not private.exists()


def test_the_reaper_sweeps_the_run_of_the_job_it_reaps(data_dir: Path, db_url: str) -> None:
    job_id, _ = _approved_job(db_url)
    with session_factory(db_url)() as session:
        claim_job(session, job_id=job_id, worker="w1")
        session.get_one(Job, job_id).heartbeat_at = utcnow() - timedelta(hours=1)
        session.commit()
    private = _left_run(data_dir)
    assert tasks.reap_lost_jobs_task() == 1
    assert not private.exists()


def test_a_job_whose_instance_is_busy_waits_its_turn_in_the_queue(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine says another job holds the instance (tests/provisioner/engine/test_execute.py); the
    task hands the message back to the broker to be tried again a few seconds later."""

    def busy(*_args: object, **_kwargs: object) -> None:
        raise InstanceBusy

    asked: list[dict[str, object]] = []

    def retry(**kwargs: object) -> Retry:
        asked.append(kwargs)
        return Retry()

    monkeypatch.setattr(tasks, "execute_job", busy)
    monkeypatch.setattr(tasks.run_job, "retry", retry)
    with pytest.raises(Retry):
        tasks.run_job("job-1")
    assert asked == [{"countdown": 3}]
