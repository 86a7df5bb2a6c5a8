"""Backup, restore and drill jobs over the scripted runner: what each leaves behind when its runs
succeed, and when each of them fails (the real chain is in tests/e2e/test_backups_wordpress.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from provisioner.db import transaction
from provisioner.health.probe import Health
from provisioner.jobs.states import JobKind
from provisioner.models import Alert, Backup, DrillResult, Instance
from provisioner.runner.scripted import ScriptedRun, ScriptedRunner, fails, succeeds, times_out
from provisioner.runner.spec import RunSpec
from tests.support.engine_lab import EngineLab, backup_reported, by_step


def _step(spec: RunSpec) -> str:
    """ "drill-check" is asked twice in a drill: the repository's check, then the restored data's."""
    if spec.playbook == "drill-check.yml":
        return "check repository" if spec.variables["read_data"] else "check data"
    return by_step(spec).split(" ")[0]


def _answers(**runs: ScriptedRun) -> Callable[[RunSpec], ScriptedRun]:
    def answer(spec: RunSpec) -> ScriptedRun:
        key = _step(spec).replace(" ", "_")
        return runs.get(key, backup_reported() if key == "backup" else succeeds())

    return answer


def _alerts(lab: EngineLab) -> list[tuple[str, str]]:
    with transaction(lab.url) as session:
        return [(a.kind, a.status) for a in session.scalars(select(Alert))]


def test_a_backup_keeps_what_the_server_reported_and_the_instance_runs_on(lab: EngineLab) -> None:
    blog = lab.instance()
    job = lab.job(blog, JobKind.BACKUP)

    runner = lab.run(job, ScriptedRunner(backup_reported()))

    assert runner.playbooks == ["backup.yml"]
    assert lab.ended(job) == ("succeeded", None, "running")
    with transaction(lab.url) as session:
        backup = session.scalars(select(Backup).where(Backup.job_id == job)).one()
        assert (backup.status, backup.size_bytes, backup.added_bytes) == ("succeeded", 1000, 10)
        assert backup.snapshot_id is not None


def test_a_failed_backup_fails_its_job_raises_an_alert_and_leaves_the_instance_running(
    lab: EngineLab,
) -> None:
    blog = lab.instance()
    job = lab.job(blog, JobKind.BACKUP)

    lab.run(job, ScriptedRunner(fails("restic: repository is locked")))

    assert lab.ended(job) == ("failed", "the backup failed: restic: repository is locked", "running")
    assert _alerts(lab) == [("backup_failed", "open")]


def test_a_backup_that_reports_no_snapshot_fails(lab: EngineLab) -> None:
    blog = lab.instance()
    job = lab.job(blog, JobKind.BACKUP)

    lab.run(job, ScriptedRunner(succeeds("Dump the database")))

    assert lab.ended(job) == (
        "failed",
        "the backup failed: the backup playbook reported no snapshot",
        "running",
    )


def test_a_canceled_backup_fails_and_the_instance_runs_on(lab: EngineLab) -> None:
    blog = lab.instance()
    job = lab.job(blog, JobKind.BACKUP)

    lab.run(job, ScriptedRunner(succeeds("Dump the database", during=lambda _: lab.cancel(job))))

    assert lab.ended(job) == ("failed", "the backup failed: canceled while running", "running")


def test_a_restore_puts_the_backup_back_and_the_instance_runs(lab: EngineLab) -> None:
    job = lab.restore()

    runner = lab.run(job)

    assert runner.playbooks == ["restore.yml"]
    assert lab.ended(job) == ("succeeded", None, "running")


def test_a_failed_restore_leaves_the_instance_failed(lab: EngineLab) -> None:
    job = lab.restore()

    lab.run(job, ScriptedRunner(fails("the dump did not load")))

    assert lab.ended(job) == ("failed", "the restore failed: the dump did not load", "failed")


def test_a_restore_into_a_new_copy_deploys_it_then_gives_it_its_own_password(
    lab: EngineLab,
) -> None:
    job = lab.restore(into_new=True)

    # The template's credential reset steps run last, on the restored data (tests/provisioner/backups).
    assert lab.run(job).playbooks == ["deploy.yml", "restore.yml", "hooks.yml"]
    assert lab.ended(job) == ("succeeded", None, "running")


def test_a_failed_restore_into_a_new_copy_leaves_the_copy_failed(lab: EngineLab) -> None:
    job = lab.restore(into_new=True)

    runner = lab.run(job, ScriptedRunner(succeeds(), fails("the dump did not load")))

    assert runner.playbooks == ["deploy.yml", "restore.yml"]
    assert lab.ended(job) == ("failed", "the restore failed: the dump did not load", "failed")


def test_a_restore_canceled_while_it_runs_leaves_the_instance_failed(lab: EngineLab) -> None:
    job = lab.restore()

    lab.run(job, ScriptedRunner(succeeds("Load the dump", during=lambda _: lab.cancel(job))))

    assert lab.ended(job) == ("failed", "the restore failed: canceled while running", "failed")


def test_a_restore_that_runs_too_long_leaves_the_instance_failed(lab: EngineLab) -> None:
    job = lab.restore()

    lab.run(job, ScriptedRunner(times_out("Load the dump")))

    status, error, state = lab.ended(job)
    assert (status, state) == ("failed", "failed")
    assert (error or "").startswith("the restore failed: it ran longer than its time limit")


def test_a_backup_that_runs_too_long_fails_and_the_instance_runs_on(lab: EngineLab) -> None:
    blog = lab.instance()
    job = lab.job(blog, JobKind.BACKUP)

    lab.run(job, ScriptedRunner(times_out("Back up the volumes with restic")))

    status, error, state = lab.ended(job)
    assert (status, state) == ("failed", "running")
    assert (error or "").startswith("the backup failed: it ran longer than its time limit")
    assert _alerts(lab) == [("backup_failed", "open")]


def test_a_new_copy_that_cannot_be_deployed_gets_no_restore(lab: EngineLab) -> None:
    job = lab.restore(into_new=True)

    runner = lab.run(job, ScriptedRunner(fails("no space left")))

    assert runner.playbooks == ["deploy.yml"]
    assert lab.ended(job) == ("failed", "the new instance could not be deployed", "failed")


def _drill(
    lab: EngineLab, health: tuple[Health, ...] = (Health.HEALTHY,), **runs: ScriptedRun
) -> tuple[list[str], tuple[str, str | None, str], tuple[str, str | None], str | None]:
    blog, _ = lab.backed_up()
    job = lab.job(blog, JobKind.DRILL)
    runner = lab.run(job, ScriptedRunner(answer=_answers(**runs)), health=health)
    with transaction(lab.url) as session:
        drill = session.scalars(select(DrillResult).where(DrillResult.job_id == job)).one()
        throwaway = (
            session.get(Instance, drill.throwaway_instance_id) if drill.throwaway_instance_id else None
        )
        return (
            [_step(spec) for spec in runner.ran],
            tuple(lab.ended(job)),  # type: ignore[return-value]
            (drill.status, drill.detail),
            throwaway.state if throwaway else None,
        )


def test_a_drill_restores_into_a_throwaway_checks_it_and_removes_it(lab: EngineLab) -> None:
    runs, ended, drill, throwaway = _drill(lab)

    assert runs == ["check repository", "deploy", "restore", "check data", "remove"]
    assert ended == ("succeeded", None, "running")
    assert drill == ("passed", "restored, healthy, data check passed, repository verified")
    assert throwaway == "removed"


def test_a_damaged_repository_fails_the_drill_before_any_throwaway(lab: EngineLab) -> None:
    runs, ended, drill, throwaway = _drill(lab, check_repository=fails("pack 3f2a is damaged"))

    assert runs == ["check repository"]
    assert ended[0] == "failed"
    assert drill == ("failed", "restic check --read-data found the repository damaged")
    assert throwaway is None
    assert ("drill_failed", "open") in _alerts(lab)


def test_a_throwaway_that_does_not_answer_fails_the_drill_and_is_removed_all_the_same(lab: EngineLab) -> None:
    runs, ended, drill, throwaway = _drill(lab, health=(Health.UNHEALTHY,))

    assert runs == ["check repository", "deploy", "restore", "remove"]
    assert drill == ("failed", "the restored instance did not answer its health check")
    assert (ended[0], throwaway) == ("failed", "removed")


def test_a_failed_restore_in_a_drill_is_its_failure_and_the_throwaway_goes(lab: EngineLab) -> None:
    runs, _, drill, throwaway = _drill(lab, restore=fails("the dump did not load"))

    assert runs == ["check repository", "deploy", "restore", "remove"]
    assert drill == ("failed", "the restore failed: the dump did not load")
    assert throwaway == "removed"


def test_a_throwaway_that_cannot_be_removed_is_left_failed_for_the_operator(lab: EngineLab) -> None:
    runs, _, drill, throwaway = _drill(lab, check_data=fails("no tables"), remove=fails("unreachable"))

    assert runs == ["check repository", "deploy", "restore", "check data", "remove"]
    assert drill == ("failed", "the restored data did not pass the template's data check")
    assert throwaway == "failed"


def test_a_throwaway_that_cannot_be_deployed_fails_the_drill_and_is_removed(lab: EngineLab) -> None:
    runs, ended, drill, throwaway = _drill(lab, deploy=fails("no space left"))

    assert runs == ["check repository", "deploy", "remove"]
    assert (ended[0], throwaway) == ("failed", "removed")
    assert drill == ("failed", "the throwaway instance could not be deployed")


def _cancel_the_drill(lab: EngineLab) -> Callable[[RunSpec], None]:
    def cancel(_: RunSpec) -> None:
        with transaction(lab.url) as session:
            lab.cancel(session.scalars(select(DrillResult.job_id)).one())

    return cancel


@pytest.mark.parametrize("how", ["timed-out", "canceled"])
def test_a_drill_whose_check_does_not_finish_says_so_and_not_that_the_repository_is_damaged(
    lab: EngineLab, how: str
) -> None:
    if how == "canceled":
        check, said = succeeds("Check", during=_cancel_the_drill(lab)), "canceled while running"
    else:
        check, said = times_out("Check"), "it ran longer than its time limit"

    runs, ended, drill, throwaway = _drill(lab, check_repository=check)

    assert runs == ["check repository"]
    assert ended[0] == "failed"
    assert drill[0] == "failed"
    assert (drill[1] or "").startswith(f"the drill's check did not finish: {said}")
    assert throwaway is None
