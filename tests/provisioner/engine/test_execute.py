"""The steps every job shares: the claim and the instance's lock, the handler table, a job that changed
its mind (the instance moved on), a handler that breaks down, and a job the reaper gave up."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from provisioner.db import transaction
from provisioner.engine.execute import InstanceBusy, execute_job
from provisioner.engine.registry import HANDLERS
from provisioner.instances.service import set_state
from provisioner.instances.states import InstanceState
from provisioner.jobs.service import ClaimResult, claim_job, reap_lost_jobs
from provisioner.jobs.states import JobKind
from provisioner.models import Instance
from provisioner.runner.scripted import ScriptedRunner, succeeds
from provisioner.runner.spec import EventSink, RunOutcome, RunSpec
from provisioner.timeutil import utcnow
from tests.support.engine import scripted_context
from tests.support.engine_lab import EngineLab, backup_reported


def test_every_job_kind_has_one_handler() -> None:
    assert set(HANDLERS) == set(JobKind)


def test_a_second_job_waits_while_another_holds_the_instance(lab: EngineLab) -> None:
    blog = lab.instance()
    first, second = lab.job(blog, JobKind.BACKUP), lab.job(blog, JobKind.REMOVE)
    with transaction(lab.url) as session:
        assert claim_job(session, job_id=first, worker="w0") == ClaimResult.CLAIMED
    runner = ScriptedRunner()

    with pytest.raises(InstanceBusy):
        execute_job(scripted_context(lab.settings, runner), second, worker="w1")

    assert runner.ran == []
    assert lab.ended(second) == ("queued", None, "running")


def test_a_job_that_is_not_queued_any_more_is_left_alone(lab: EngineLab) -> None:
    site = lab.instance(blog=False)
    job = lab.job(site, JobKind.REMOVE)
    lab.run(job)

    runner = lab.run(job)

    assert runner.ran == []
    assert lab.ended(job) == ("succeeded", None, "removed")


def test_a_job_whose_instance_moved_on_while_it_waited_does_nothing(lab: EngineLab) -> None:
    site = lab.instance(blog=False)
    job = lab.job(site, JobKind.DEPLOY)
    with transaction(lab.url) as session:
        instance = session.get_one(Instance, site)
        set_state(instance, InstanceState.REMOVING)
        set_state(instance, InstanceState.REMOVED)

    runner = lab.run(job)

    assert runner.ran == []
    status, error, state = lab.ended(job)
    assert (status, state) == ("canceled", "removed")
    assert error is not None
    assert error.startswith("nothing done: ")


BROKE_DOWN = "broke down inside the control plane: RuntimeError"


class Broken:
    """A runner that breaks inside the control plane, not on a server."""

    def run(self, spec: RunSpec, sink: EventSink) -> RunOutcome:
        raise RuntimeError("a bug, with /secret/paths in its message")


@pytest.mark.parametrize(
    ("kind", "ended"),
    [
        # The text of the exception is in the log only: it may hold paths or values of the lab.
        (JobKind.DEPLOY, ("failed", f"the job {BROKE_DOWN}", "failed")),
        # A backup leaves the instance alone, also in its working state: as before the engine existed.
        (
            JobKind.BACKUP,
            ("failed", "the backup broke down inside the control plane: RuntimeError", "backing_up"),
        ),
    ],
)
def test_a_job_that_breaks_down_inside_the_control_plane_fails(
    lab: EngineLab, kind: JobKind, ended: tuple[str, str, str]
) -> None:
    job = lab.job(lab.instance(), kind)

    execute_job(scripted_context(lab.settings, Broken()), job, worker="w1")  # type: ignore[arg-type]

    assert lab.ended(job) == ended


def _reaped(lab: EngineLab, job_id: str) -> None:
    with transaction(lab.url) as session:
        for reaped in reap_lost_jobs(session, silent_since=utcnow() + timedelta(seconds=1)):
            set_state(reaped.instance, InstanceState.FAILED, reason=reaped.error)


@pytest.mark.parametrize("kind", [JobKind.DEPLOY, JobKind.UPDATE, JobKind.BACKUP])
def test_a_job_the_reaper_gave_up_while_it_ran_records_nothing_more(lab: EngineLab, kind: JobKind) -> None:
    blog = lab.instance()
    job = lab.job(blog, kind, **({"target_version": "6.1-r2"} if kind is JobKind.UPDATE else {}))
    # The reaper strikes during the job's first run (the backup of a backup job or an update).
    first = backup_reported() if kind is not JobKind.DEPLOY else succeeds()
    runner = ScriptedRunner(replace(first, during=lambda _: _reaped(lab, job)))

    lab.run(job, runner)

    status, error, state = lab.ended(job)
    assert (status, state) == ("failed", "failed")
    assert (error or "").startswith("worker lost"), error
