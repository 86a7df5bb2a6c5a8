"""The steps every job shares: the claim and the instance's lock (every kind waits its turn), the handler
table, and a job that changed its mind (the instance moved on). A handler that breaks down and a job
the reaper gave up: test_unfinished.py."""

from __future__ import annotations

import pytest

from provisioner.db import transaction
from provisioner.engine.execute import InstanceBusy, execute_job
from provisioner.engine.registry import HANDLERS
from provisioner.instances.service import set_state
from provisioner.instances.states import InstanceState
from provisioner.jobs.service import ClaimResult, claim_job
from provisioner.jobs.states import JobKind
from provisioner.models import Instance
from provisioner.runner.scripted import ScriptedRunner
from tests.support.engine import scripted_context
from tests.support.engine_lab import EngineLab


def test_every_job_kind_has_one_handler() -> None:
    assert set(HANDLERS) == set(JobKind)


# A server's bootstrap holds no instance: one per server, in test_server_jobs.py; nor does an
# offboarding, whose removal jobs wait as these do (test_offboard_jobs.py); an association's export
# takes each service's lock in turn and leaves a held one out (test_association_export_jobs.py).
@pytest.mark.parametrize(
    "kind", [k for k in JobKind if k not in (JobKind.BOOTSTRAP, JobKind.OFFBOARD, JobKind.ASSOCIATION_EXPORT)]
)
def test_a_second_job_waits_while_another_holds_the_instance(lab: EngineLab, kind: JobKind) -> None:
    blog, second = lab.job_of(kind)
    first = lab.job(blog, JobKind.BACKUP)
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
