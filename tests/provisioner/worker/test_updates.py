"""The order of an update's runs, and of its rollback, over recorded stand-ins for the server runs
(the real chain is in tests/e2e/test_updates_and_moves.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.health.probe import Health
from provisioner.instances.states import InstanceState
from provisioner.jobs.service import create_job
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.models import Instance, Job
from provisioner.runner.spec import RunOutcome
from provisioner.worker import updates
from provisioner.worker.guarded import TakenBackup
from tests.support import factories

OK = RunOutcome(status="successful", rc=0, error=None)
FAILED = RunOutcome(status="failed", rc=2, error="a step failed")


class Sink:
    def emit(self, event: Any) -> None:
        pass

    def should_cancel(self) -> bool:
        return False

    def flush(self) -> None:
        pass

    def continue_numbering(self) -> None:
        pass


class Server:
    """Records the runs an update makes, answering each as the test says."""

    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, *, before: RunOutcome | None, update: RunOutcome, healthy: bool
    ):
        self.runs: list[str] = []
        self._before, self._update = before, update
        taken = TakenBackup(id="bak_1", created_at=datetime(2026, 1, 1, tzinfo=UTC))
        monkeypatch.setattr(updates, "backup_first", lambda *a, **k: self._record("backup", taken))
        monkeypatch.setattr(updates, "run_steps_before_update", self._steps_before)
        monkeypatch.setattr(updates, "run_on_server", self._run)
        monkeypatch.setattr(updates, "restore_backup", self._restore)
        health = Health.HEALTHY if healthy else Health.UNHEALTHY
        monkeypatch.setattr(updates, "wait_healthy", lambda *a, **k: health)

    def _record(self, what: str, answer: Any = None) -> Any:
        self.runs.append(what)
        return answer

    def _steps_before(self, *args: Any, **kwargs: Any) -> RunOutcome | None:
        return self._record("steps before the update", self._before)

    def _run(self, *args: Any, kind: JobKind, version: str, **kwargs: Any) -> RunOutcome:
        answer = self._update if kind is JobKind.UPDATE else OK
        return self._record(f"{kind.value} {version}", answer)  # type: ignore[no-any-return]

    def _restore(self, *args: Any, backup_id: str, version: str | None = None, **kwargs: Any) -> None:
        self._record(f"restore {backup_id} under {version}")


def _update_job(db_url: str) -> str:
    with session_factory(db_url)() as session:
        instance = factories.homepage(session, factories.tenant(session))
        instance.template, instance.version = "wordpress", "6.1"
        instance.server = factories.server(session)
        instance.state = InstanceState.RUNNING.value
        job = create_job(session, instance=instance, kind=JobKind.UPDATE, target_version="6.1-r2")
        job.status = JobStatus.RUNNING.value
        session.commit()
        return job.id


def _update(
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    before: RunOutcome | None,
    update: RunOutcome,
    healthy: bool = False,
) -> tuple[list[str], tuple[str, str | None, str, str]]:
    """Runs the update of a WordPress at 6.1 to 6.1-r2: the server's runs, and how job and instance end."""
    job_id = _update_job(db_url)
    server = Server(monkeypatch, before=before, update=update, healthy=healthy)
    updates.run_update(Settings(data_dir=tmp_path, database_url=db_url), factories.CATALOG, job_id, Sink())
    with session_factory(db_url)() as session:
        job = session.get_one(Job, job_id)
        instance = session.get_one(Instance, job.instance_id)
        return server.runs, (job.status, job.error, instance.state, instance.version)


def test_an_update_runs_the_templates_steps_before_it_in_the_running_version(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs, ended = _update(db_url, tmp_path, monkeypatch, before=OK, update=OK, healthy=True)

    assert runs == ["backup", "steps before the update", "update 6.1-r2"]
    assert ended == ("succeeded", None, "running", "6.1-r2")


def test_failing_steps_before_an_update_roll_back_without_starting_the_new_version(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs, (_, error, state, _) = _update(db_url, tmp_path, monkeypatch, before=FAILED, update=OK)

    # The new version never started; the old one is deployed again with the backup's data.
    assert runs == ["backup", "steps before the update", "deploy 6.1", "restore bak_1 under None"]
    assert state == "running"
    assert error is not None
    assert error.startswith("the template's steps before the update to 6.1-r2 failed: a step failed")
