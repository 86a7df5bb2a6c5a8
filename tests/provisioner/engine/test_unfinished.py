"""Jobs of every kind that end without their handler's say: the handler broken down inside the control
plane, or the worker lost (the reaper gives the job up while it runs). Nothing is left waiting on a job
that has ended: the instance a job left half-way is failed, a backup or drill it had begun (also a
space's backup) is failed and raises its alert, and an instance a drill never changed keeps running."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import select

from provisioner.db import transaction
from provisioner.engine.execute import execute_job, run_claimed
from provisioner.engine.heartbeat import Heartbeat
from provisioner.engine.sink import DatabaseSink
from provisioner.engine.unfinished import reap_lost
from provisioner.jobs.service import JobLost, claim_job
from provisioner.jobs.states import JobKind
from provisioner.models import Alert, Backup, DrillResult, Instance, Job
from provisioner.runner.scripted import ScriptedRun, ScriptedRunner, succeeds
from provisioner.runner.spec import EventSink, RunOutcome, RunSpec
from provisioner.timeutil import utcnow
from tests.support.engine import scripted_context
from tests.support.engine_lab import EngineLab, backup_reported

# The state each kind leaves its instance in when it ends unsettled: a drill never changes the
# instance it drills (its throwaway is another), every other kind is half-way through changing it.
# A space job leaves its running shared instance as it was: its space fails instead (test_space_jobs).
SPACE_KINDS = [kind for kind in JobKind if kind.value.startswith("space_")]
LEFT = dict.fromkeys(JobKind, "failed") | dict.fromkeys((JobKind.DRILL, *SPACE_KINDS), "running")
ALERTED = {
    JobKind.BACKUP: "backup_failed",
    JobKind.DRILL: "drill_failed",
    JobKind.SPACE_BACKUP: "space_backup_failed",
}
# The kinds that work on an instance; a server's bootstrap is in test_server_jobs.py, an offboarding
# (the removal jobs it runs are of these kinds) in test_offboard_jobs.py, an association's export in
# test_association_export_jobs.py.
INSTANCE_KINDS = [
    kind for kind in JobKind if kind not in (JobKind.BOOTSTRAP, JobKind.OFFBOARD, JobKind.ASSOCIATION_EXPORT)
]


@dataclass
class Leftovers:
    """What a job left besides its own record."""

    state: str
    backups: list[str] = field(default_factory=list)  # the job's backups' statuses
    drills: list[str] = field(default_factory=list)
    alerts: list[tuple[str, str]] = field(default_factory=list)


def _leftovers(lab: EngineLab, instance_id: str, job_id: str) -> Leftovers:
    with transaction(lab.url) as session:
        return Leftovers(
            state=session.get_one(Instance, instance_id).state,
            backups=list(session.scalars(select(Backup.status).where(Backup.job_id == job_id))),
            drills=list(session.scalars(select(DrillResult.status).where(DrillResult.job_id == job_id))),
            alerts=[(a.kind, a.status) for a in session.scalars(select(Alert))],
        )


def _expected(kind: JobKind) -> Leftovers:
    return Leftovers(
        state=LEFT[kind],
        # Only the kinds that start with a backup of their own leave one; it failed with the job.
        backups=["failed"] if kind in (JobKind.BACKUP, JobKind.UPDATE, JobKind.MOVE, JobKind.EXPORT) else [],
        drills=["failed"] if kind is JobKind.DRILL else [],
        alerts=[(ALERTED[kind], "open")] if kind in ALERTED else [],
    )


class Broken:
    """A runner that breaks inside the control plane, not on a server."""

    def run(self, spec: RunSpec, sink: EventSink) -> RunOutcome:
        raise RuntimeError("a bug, with /secret/paths in its message")


@pytest.mark.parametrize("kind", INSTANCE_KINDS)
def test_a_job_that_breaks_down_inside_the_control_plane_fails_and_settles_what_it_began(
    lab: EngineLab, kind: JobKind
) -> None:
    instance_id, job = lab.job_of(kind)

    execute_job(scripted_context(lab.settings, Broken()), job, worker="w1")  # type: ignore[arg-type]

    # The text of the exception is in the log only: it may hold paths or values of the lab.
    error = f"the {kind.value} broke down inside the control plane: RuntimeError"
    assert lab.ended(job) == ("failed", error, LEFT[kind])
    assert _leftovers(lab, instance_id, job) == _expected(kind)


def _run_reaped_during_first_run(lab: EngineLab, job_id: str) -> ScriptedRunner:
    """The job runs until the reaper gives it up in its first run; the heartbeat's next beat finds out
    (here at once, instead of within its 5 s), and every run of the job is stopped from then on."""
    with transaction(lab.url) as session:
        claim_job(session, job_id=job_id, worker="w1")
    heartbeat = Heartbeat(lab.url, job_id)

    def reaped(_: RunSpec) -> None:
        assert reap_lost(lab.settings, silent_since=utcnow() + timedelta(seconds=1)) == [job_id]
        heartbeat.beat()

    with transaction(lab.url) as session:
        first = (
            backup_reported() if JobKind(session.get_one(Job, job_id).kind) is JobKind.BACKUP else succeeds()
        )
    runner = ScriptedRunner(ScriptedRun(first.outcome, events=first.events, during=reaped))
    sink = DatabaseSink(lab.url, job_id, heartbeat=heartbeat)
    with pytest.raises(JobLost):
        run_claimed(scripted_context(lab.settings, runner), job_id, sink)
    return runner


@pytest.mark.parametrize("kind", INSTANCE_KINDS)
def test_a_job_whose_worker_is_lost_fails_and_what_it_began_is_settled(lab: EngineLab, kind: JobKind) -> None:
    instance_id, job = lab.job_of(kind)

    runner = _run_reaped_during_first_run(lab, job)

    status, error, state = lab.ended(job)
    assert (status, state) == ("failed", LEFT[kind])
    assert (error or "").startswith("worker lost: w1 stopped reporting"), error
    assert _leftovers(lab, instance_id, job) == _expected(kind)
    # Nothing ran after the run the reaper interrupted, except what stops within a step by itself.
    assert len(runner.ran) <= 2, runner.playbooks


def test_a_drill_whose_worker_is_lost_leaves_its_throwaway_failed_for_the_operator(lab: EngineLab) -> None:
    blog, _ = lab.backed_up()
    job = lab.job(blog, JobKind.DRILL)
    with transaction(lab.url) as session:
        claim_job(session, job_id=job, worker="w1")
    heartbeat = Heartbeat(lab.url, job)

    def reaped(_: RunSpec) -> None:
        reap_lost(lab.settings, silent_since=utcnow() + timedelta(seconds=1))
        heartbeat.beat()

    # The repository's check and the throwaway's deploy pass; the reaper strikes during its restore.
    runner = ScriptedRunner(succeeds(), succeeds(), succeeds(during=reaped))
    with pytest.raises(JobLost):
        run_claimed(
            scripted_context(lab.settings, runner), job, DatabaseSink(lab.url, job, heartbeat=heartbeat)
        )

    with transaction(lab.url) as session:
        drill = session.scalars(select(DrillResult).where(DrillResult.job_id == job)).one()
        assert drill.status == "failed"
        assert (drill.detail or "").startswith("worker lost")
        assert drill.throwaway_instance_id is not None
        throwaway = session.get_one(Instance, drill.throwaway_instance_id)
        assert throwaway.state == "failed"
        assert session.get_one(Instance, blog).state == "running"
