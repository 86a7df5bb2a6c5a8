"""A running job stays its worker's for its whole life, and a worker whose job was reaped changes nothing.

The worker's own code runs (claim, heartbeat, settle); the update's runs are replaced by a step that
stays silent, as the health wait after an update does for up to its window (120 s by default, past
the 60 s after which a silent job counts as lost).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from provisioner.backups.steps import StepSink
from provisioner.config import Settings
from provisioner.context import Context
from provisioner.db import session_factory, transaction
from provisioner.engine import registry
from provisioner.engine.execute import execute_job
from provisioner.engine.heartbeat import BEAT_EVERY_SECONDS
from provisioner.engine.steps import end_job
from provisioner.engine.unfinished import reap_lost
from provisioner.instances.service import set_state
from provisioner.instances.states import InstanceState
from provisioner.jobs.service import ClaimResult, claim_job, create_job
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.models import Instance, Job
from provisioner.timeutil import utcnow
from tests.support import factories
from tests.support.engine import scripted_context

BEAT = 0.2
GuardedJob = Callable[[Context, str, StepSink], None]


def _running_instance_with_update(db_url: str) -> tuple[str, str]:
    with session_factory(db_url)() as session:
        owner = factories.tenant(session)
        server = factories.server(session)
        instance = factories.homepage(session, owner)
        instance.server_id = server.id
        # Where the update puts it before its first step.
        for state in (
            InstanceState.APPROVED,
            InstanceState.PROVISIONING,
            InstanceState.RUNNING,
            InstanceState.UPDATING,
        ):
            set_state(instance, state)
        job = create_job(session, instance=instance, kind=JobKind.UPDATE, target_version=instance.version)
        session.commit()
        return job.id, instance.id


def _until(condition: Callable[[], bool], what: str) -> None:
    """Wait for something the code under test does on its own thread (bounded, so a bug fails)."""
    deadline = time.monotonic() + 10 * BEAT_EVERY_SECONDS  # bounded by a real worker's beat
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.05)


def _heartbeat(db_url: str, job_id: str) -> datetime | None:
    with session_factory(db_url)() as session:
        return session.get_one(Job, job_id).heartbeat_at


def _run(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: GuardedJob, job_id: str) -> None:
    settings = Settings(database_url=db_url, data_dir=tmp_path)
    assert settings.worker_lost_after_seconds == 60  # the default window the review found the fault with
    monkeypatch.setitem(registry.HANDLERS, JobKind.UPDATE, registry.Handler(step))
    # Beats faster than a worker does, so the test waits less; the reaper's window is the default.
    execute_job(scripted_context(settings), job_id, worker="w1", beat_every=BEAT)


def test_a_silent_step_keeps_its_job_alive(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id, instance_id = _running_instance_with_update(db_url)
    reaped: list[str] = []

    def silent_health_wait(ctx: Context, job_id: str, sink: StepSink) -> None:
        silent_since = utcnow()
        # No event, no run: only the job's own heartbeat can show the worker is alive.
        _until(
            lambda: (_heartbeat(db_url, job_id) or silent_since) > silent_since, "a heartbeat during the step"
        )
        # The reaper, as if the worker-lost window had passed since the step began.
        reaped.extend(reap_lost(ctx.settings, silent_since=silent_since))
        end_job(ctx, job_id, status=JobStatus.SUCCEEDED, state=InstanceState.RUNNING)

    _run(db_url, tmp_path, monkeypatch, silent_health_wait, job_id)
    assert reaped == []
    with session_factory(db_url)() as session:
        job = session.get_one(Job, job_id)
        assert (job.status, job.error) == ("succeeded", None)
        instance = session.get_one(Instance, instance_id)
        assert (instance.state, instance.lock_job_id) == ("running", None)


def test_a_worker_whose_job_was_reaped_stops_and_records_nothing(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id, instance_id = _running_instance_with_update(db_url)
    seen: dict[str, object] = {}

    def reaped_while_it_runs(ctx: Context, job_id: str, sink: StepSink) -> None:
        assert reap_lost(ctx.settings, silent_since=utcnow() + timedelta(seconds=1)) == [job_id]
        with transaction(db_url) as session:
            # A second job takes the instance the reaper freed.
            second = create_job(session, instance=session.get_one(Instance, instance_id), kind=JobKind.DEPLOY)
            seen["second"] = second.id
        with transaction(db_url) as session:
            assert claim_job(session, job_id=str(seen["second"]), worker="w2") == ClaimResult.CLAIMED
        # The heartbeat finds the job gone; every run of the job is asked to stop from then on.
        _until(sink.should_cancel, "the run told to stop")
        seen["lost"] = sink.lost
        # The update itself went through meanwhile: the worker tries to record that.
        end_job(ctx, job_id, status=JobStatus.SUCCEEDED, state=InstanceState.RUNNING)
        seen["recorded"] = True

    _run(db_url, tmp_path, monkeypatch, reaped_while_it_runs, job_id)
    assert seen["lost"] is True
    assert "recorded" not in seen
    with session_factory(db_url)() as session:
        job = session.get_one(Job, job_id)
        assert job.status == "failed"
        assert (job.error or "").startswith("worker lost"), job.error
        instance = session.get_one(Instance, instance_id)
        assert (instance.state, instance.lock_job_id) == ("failed", seen["second"])
        assert session.get_one(Job, str(seen["second"])).status == "running"


def test_the_heartbeat_beats_well_inside_the_default_window() -> None:
    assert Settings().worker_lost_after_seconds >= BEAT_EVERY_SECONDS * 5
