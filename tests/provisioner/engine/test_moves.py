"""A move of a WordPress from server s1 to s2 over the scripted runner: the order of its runs, and the
way back to s1 when s2 fails (the real chain is in tests/e2e/test_updates_and_moves.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from provisioner.db import transaction
from provisioner.health.probe import Health
from provisioner.jobs.states import JobKind
from provisioner.models import Instance, Job, Server
from provisioner.runner.scripted import ScriptedRun, ScriptedRunner, fails, succeeds, times_out
from provisioner.runner.spec import RunSpec
from tests.support.engine_lab import EngineLab, backup_reported, by_step

# A move whose deploy on the target fails, and the way back to the source.
THERE_AND_BACK = [
    "backup on s1",
    "remove on s1",
    "deploy on s2",
    "remove on s2",
    "deploy on s1",
    "restore on s1",
]


def _where(spec: RunSpec) -> str:
    return f"{by_step(spec).split(' ')[0]} on {spec.host.name}"


def _answers(**runs: ScriptedRun) -> Callable[[RunSpec], ScriptedRun]:
    """Each run as named by ``_where`` ("deploy_on_s2" for "deploy on s2"); a success otherwise."""

    def answer(spec: RunSpec) -> ScriptedRun:
        key = _where(spec).replace(" ", "_")
        return runs.get(key, backup_reported() if spec.playbook == "backup.yml" else succeeds())

    return answer


def _move(
    lab: EngineLab, health: tuple[Health, ...] = (Health.HEALTHY,), **runs: ScriptedRun
) -> tuple[list[str], tuple[str, str | None, str], str]:
    blog = lab.instance()
    target = lab.second_server()
    job = lab.job(blog, JobKind.MOVE, target_server_id=target)
    runner = lab.run(job, ScriptedRunner(answer=_answers(**runs)), health=health)
    with transaction(lab.url) as session:
        instance = session.get_one(Instance, blog)
        server = session.get_one(Server, instance.server_id).name
    return [_where(spec) for spec in runner.ran], tuple(lab.ended(job)), server  # type: ignore[return-value]


def test_a_move_backs_up_empties_the_source_then_deploys_and_restores_on_the_target(lab: EngineLab) -> None:
    runs, ended, server = _move(lab)

    assert runs == ["backup on s1", "remove on s1", "deploy on s2", "restore on s2"]
    assert (ended, server) == (("succeeded", None, "running"), "s2")


def test_a_failed_deploy_on_the_target_brings_the_instance_back_to_the_source(lab: EngineLab) -> None:
    runs, (status, error, state), server = _move(lab, deploy_on_s2=fails("no space left"))

    assert runs == THERE_AND_BACK
    assert (status, state, server) == ("failed", "running", "s1")
    assert (error or "").startswith("the move to s2 failed: the deploy on s2 failed: no space left")
    assert "the instance runs on s1 again" in (error or "")


def test_a_target_that_never_answers_sends_the_instance_back(lab: EngineLab) -> None:
    runs, (status, error, state), server = _move(lab, health=(Health.UNHEALTHY,))

    assert runs[-3:] == ["remove on s2", "deploy on s1", "restore on s1"]
    assert (status, state, server) == ("failed", "running", "s1")
    assert "did not become healthy on s2" in (error or "")


def test_a_failed_backup_leaves_the_instance_where_it_was(lab: EngineLab) -> None:
    runs, (status, error, state), server = _move(lab, backup_on_s1=fails("the repository is locked"))

    assert runs == ["backup on s1"]
    assert (status, state, server) == ("failed", "running", "s1")
    assert (error or "").startswith("the move to s2 was not started, because the backup before it failed")


def test_a_way_back_that_fails_too_leaves_the_instance_failed_and_names_the_backup(lab: EngineLab) -> None:
    runs, (status, error, state), _ = _move(
        lab, deploy_on_s2=fails("no space left"), deploy_on_s1=fails("the old server is gone")
    )

    assert runs[-2:] == ["remove on s2", "deploy on s1"]
    assert (status, state) == ("failed", "failed")
    assert "going back to s1 failed too" in (error or "")
    assert "holds the data" in (error or "")


def _cancel_the_move(lab: EngineLab) -> Callable[[RunSpec], None]:
    def cancel(_: RunSpec) -> None:
        with transaction(lab.url) as session:
            job_id = session.scalars(select(Job.id).where(Job.kind == JobKind.MOVE.value)).one()
        lab.cancel(job_id)

    return cancel


@pytest.mark.parametrize(
    ("step", "failure", "said"),
    [
        ("remove_on_s1", fails("docker: permission denied"), "could not be removed from s1: docker"),
        ("deploy_on_s2", times_out("Pull images"), "the deploy on s2 failed: it ran longer than its time"),
        ("restore_on_s2", fails("the dump did not load"), "the restore failed: the dump did not load"),
    ],
    ids=["remove-from-source", "deploy-timed-out", "restore-on-target"],
)
def test_a_failure_on_the_way_to_the_target_brings_the_instance_back_to_the_source(
    lab: EngineLab, step: str, failure: ScriptedRun, said: str
) -> None:
    runs, (status, error, state), server = _move(lab, **{step: failure})

    assert runs[-3:] == ["remove on s2", "deploy on s1", "restore on s1"]
    assert (status, state, server) == ("failed", "running", "s1")
    assert said in (error or "")
    assert "the instance runs on s1 again, data restored from the backup taken at" in (error or "")


def test_a_move_canceled_while_it_runs_goes_back_to_the_source_to_the_end(lab: EngineLab) -> None:
    # The way back runs through although the cancel request stands: stopping it halfway would leave
    # the instance on neither server.
    runs, (status, error, state), server = _move(
        lab, deploy_on_s2=succeeds("Pull images", during=_cancel_the_move(lab))
    )

    assert runs == THERE_AND_BACK
    assert (status, state, server) == ("failed", "running", "s1")
    assert (error or "").startswith("the move to s2 failed: the deploy on s2 failed: canceled while running")
