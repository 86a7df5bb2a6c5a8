"""Jobs of one playbook run (deploy, redeploy, remove, credential reset): how each outcome of the run
settles job and instance."""

from __future__ import annotations

import pytest

from provisioner.db import transaction
from provisioner.health.probe import Health
from provisioner.jobs.states import JobKind
from provisioner.models import Instance
from provisioner.runner.scripted import ScriptedRunner, fails, succeeds, times_out
from tests.support.engine_lab import EngineLab


def test_a_deploy_runs_its_playbook_and_leaves_the_instance_running_and_checked(lab: EngineLab) -> None:
    site, job = lab.deploy_job()

    runner = lab.run(job, ScriptedRunner(succeeds("Start the containers")))

    assert runner.playbooks == ["deploy.yml"]
    assert lab.ended(job) == ("succeeded", None, "running")
    assert lab.lines(job) == ["ok: [s1] Start the containers"]
    with transaction(lab.url) as session:
        assert session.get_one(Instance, site).health == "healthy"


def test_a_deploy_that_answers_unhealthy_still_runs_and_says_so(lab: EngineLab) -> None:
    site, job = lab.deploy_job()

    lab.run(job, health=(Health.UNHEALTHY,))

    assert lab.ended(job) == ("succeeded", None, "running")
    with transaction(lab.url) as session:
        assert session.get_one(Instance, site).health == "unhealthy"


def test_a_failed_deploy_fails_job_and_instance_with_the_failing_tasks_line(lab: EngineLab) -> None:
    _, job = lab.deploy_job()

    lab.run(job, ScriptedRunner(fails("fatal: [s1]: FAILED! => image not found", "Pull the images")))

    assert lab.ended(job) == ("failed", "fatal: [s1]: FAILED! => image not found", "failed")
    assert lab.lines(job)[-1] == "fatal: [s1]: FAILED! => image not found"


def test_a_deploy_that_runs_too_long_is_timed_out(lab: EngineLab) -> None:
    _, job = lab.deploy_job()

    lab.run(job, ScriptedRunner(times_out("Pull the images")))

    status, error, state = lab.ended(job)
    assert (status, state) == ("timed_out", "failed")
    assert "time limit" in (error or "")


def test_a_deploy_canceled_while_it_runs_stops_and_says_the_instance_may_be_partly_changed(
    lab: EngineLab,
) -> None:
    site, job = lab.deploy_job()

    runner = lab.run(job, ScriptedRunner(succeeds("Pull the images", during=lambda _: lab.cancel(job))))

    assert runner.playbooks == ["deploy.yml"]
    assert lab.ended(job) == ("canceled", "canceled while running", "failed")
    with transaction(lab.url) as session:
        reason = session.get_one(Instance, site).state_reason or ""
    assert "canceled while it ran" in reason


def test_a_redeploy_of_a_running_instance_ends_running(lab: EngineLab) -> None:
    site = lab.instance(blog=False)
    job = lab.job(site, JobKind.DEPLOY)

    assert lab.run(job).playbooks == ["deploy.yml"]
    assert lab.ended(job) == ("succeeded", None, "running")


def test_a_removal_clears_the_instances_address(lab: EngineLab) -> None:
    site = lab.instance(blog=False)
    job = lab.job(site, JobKind.REMOVE)

    assert lab.run(job).playbooks == ["remove.yml"]
    assert lab.ended(job) == ("succeeded", None, "removed")
    with transaction(lab.url) as session:
        instance = session.get_one(Instance, site)
        assert (instance.url, instance.port, instance.health) == (None, None, "unknown")


def test_a_failed_removal_leaves_the_instance_failed(lab: EngineLab) -> None:
    site = lab.instance(blog=False)
    job = lab.job(site, JobKind.REMOVE)

    lab.run(job, ScriptedRunner(fails("the server is unreachable")))

    assert lab.ended(job) == ("failed", "the server is unreachable", "failed")


def test_a_credential_reset_lets_the_admin_see_the_new_values_once_more(lab: EngineLab) -> None:
    blog = lab.instance()
    with transaction(lab.url) as session:
        session.get_one(Instance, blog).credentials_revealed_at = session.get_one(Instance, blog).created_at
    job = lab.job(blog, JobKind.RESET_CREDENTIALS)

    assert lab.run(job).playbooks == ["deploy.yml"]
    assert lab.ended(job) == ("succeeded", None, "running")
    with transaction(lab.url) as session:
        assert session.get_one(Instance, blog).credentials_revealed_at is None


ONE_RUN_KINDS = [JobKind.DEPLOY, JobKind.REMOVE, JobKind.RESET_CREDENTIALS]


@pytest.mark.parametrize("kind", ONE_RUN_KINDS)
@pytest.mark.parametrize("how", ["failed", "timed_out", "canceled"])
def test_a_run_that_does_not_succeed_leaves_the_instance_failed_with_the_reason(
    lab: EngineLab, kind: JobKind, how: str
) -> None:
    blog = lab.instance()
    job = lab.job(blog, kind)
    run = {
        "failed": fails("fatal: [s1]: FAILED! => no space left", "Pull the images"),
        "timed_out": times_out("Pull the images"),
        "canceled": succeeds("Pull the images", during=lambda _: lab.cancel(job)),
    }[how]

    lab.run(job, ScriptedRunner(run))

    status, _, state = lab.ended(job)
    assert (status, state) == (how, "failed")
    with transaction(lab.url) as session:
        reason = session.get_one(Instance, blog).state_reason or ""
    said = {"failed": "failed: fatal", "timed_out": "was stopped: it ran longer", "canceled": "was canceled"}
    assert reason.startswith(f"the {kind.value} {said[how]}"), reason
