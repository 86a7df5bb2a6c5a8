"""An update of a WordPress from 6.1 to 6.1-r2 over the scripted runner: the order of its runs, and of
its rollback, at each step that can fail (the real chain is in tests/e2e/test_updates_and_moves.py)."""

from __future__ import annotations

from collections.abc import Callable

from provisioner.catalog.loader import Catalog
from provisioner.catalog.model import Hook, Step
from provisioner.db import transaction
from provisioner.health.probe import Health
from provisioner.jobs.states import JobKind
from provisioner.models import Instance
from provisioner.runner.scripted import ScriptedRun, ScriptedRunner, fails, succeeds, times_out
from provisioner.runner.spec import RunSpec
from tests.support.engine_lab import EngineLab, backup_reported, by_step
from tests.support.factories import CATALOG

UNHEALTHY = (Health.UNHEALTHY,)


def _answers(**runs: ScriptedRun) -> Callable[[RunSpec], ScriptedRun]:
    """Each step as named by ``by_step`` ("deploy_6_1_r2" for "deploy 6.1-r2"); a success otherwise."""

    def answer(spec: RunSpec) -> ScriptedRun:
        step = by_step(spec)
        if step == "backup":
            return runs.get("backup", backup_reported())
        key = step.replace(" ", "_").replace(".", "_").replace("-", "_")
        return runs.get(key, succeeds())

    return answer


def _with_steps_before() -> Catalog:
    """The catalog with a WordPress that runs a step before each update (a maintenance switch, say)."""
    wordpress = CATALOG.get("wordpress")
    before = Hook(before=[Step(container="web", run=["true"])])
    changed = wordpress.model_copy(update={"hooks": wordpress.hooks.model_copy(update={"update": before})})
    return Catalog({t.name: t for t in CATALOG.all()} | {"wordpress": changed})


def _update(
    lab: EngineLab,
    health: tuple[Health, ...] = (Health.HEALTHY,),
    catalog: Catalog | None = None,
    **runs: ScriptedRun,
) -> tuple[list[str], tuple[str, str | None, str], str]:
    blog = lab.instance()
    job = lab.job(blog, JobKind.UPDATE, target_version="6.1-r2")
    runner = lab.run(job, ScriptedRunner(answer=_answers(**runs)), health=health, catalog=catalog)
    with transaction(lab.url) as session:
        version = session.get_one(Instance, blog).version
    return [by_step(spec) for spec in runner.ran], tuple(lab.ended(job)), version  # type: ignore[return-value]


def test_an_update_backs_up_then_deploys_the_new_version(lab: EngineLab) -> None:
    runs, ended, version = _update(lab)

    assert runs == ["backup", "deploy 6.1-r2"]
    assert (ended, version) == (("succeeded", None, "running"), "6.1-r2")


def test_an_update_runs_the_templates_steps_before_it_in_the_running_version(lab: EngineLab) -> None:
    runs, ended, version = _update(lab, catalog=_with_steps_before())

    assert runs == ["backup", "hooks", "deploy 6.1-r2"]
    assert (ended, version) == (("succeeded", None, "running"), "6.1-r2")


def test_failing_steps_before_an_update_roll_back_without_starting_the_new_version(lab: EngineLab) -> None:
    runs, (status, error, state), version = _update(
        lab, catalog=_with_steps_before(), hooks=fails("maintenance mode refused")
    )

    assert runs == ["backup", "hooks", "restore", "deploy 6.1"]
    assert (status, state, version) == ("failed", "running", "6.1")
    assert (error or "").startswith(
        "the template's steps before the update to 6.1-r2 failed: maintenance mode refused"
    )


def test_a_failed_update_restores_the_data_before_the_old_version_starts(lab: EngineLab) -> None:
    runs, (status, error, state), version = _update(lab, deploy_6_1_r2=fails("a step failed"))

    # Never the old version on the new version's data: the backup goes back first.
    assert runs == ["backup", "deploy 6.1-r2", "restore", "deploy 6.1"]
    assert (status, state, version) == ("failed", "running", "6.1")
    assert (error or "").startswith("the update to 6.1-r2 failed: a step failed; rolled back to 6.1")


def test_a_new_version_that_never_answers_is_rolled_back_after_its_window(lab: EngineLab) -> None:
    runs, (status, error, state), version = _update(lab, health=UNHEALTHY)

    assert runs == ["backup", "deploy 6.1-r2", "restore", "deploy 6.1"]
    assert (status, state, version) == ("failed", "running", "6.1")
    assert (error or "").startswith("version 6.1-r2 did not become healthy within ")


def test_a_new_version_that_answers_late_within_its_window_stays(lab: EngineLab) -> None:
    runs, ended, version = _update(lab, health=(Health.UNHEALTHY, Health.UNHEALTHY, Health.HEALTHY))

    assert runs == ["backup", "deploy 6.1-r2"]
    assert (ended, version) == (("succeeded", None, "running"), "6.1-r2")


def test_an_update_canceled_while_it_runs_is_rolled_back_to_the_end(lab: EngineLab) -> None:
    blog = lab.instance()
    job = lab.job(blog, JobKind.UPDATE, target_version="6.1-r2")
    canceling = succeeds("Pull the images", during=lambda _: lab.cancel(job))
    runner = lab.run(job, ScriptedRunner(answer=_answers(deploy_6_1_r2=canceling)))

    # The rollback's runs are not stopped by the cancel request: half a rollback is worse than either.
    assert [by_step(spec) for spec in runner.ran] == ["backup", "deploy 6.1-r2", "restore", "deploy 6.1"]
    status, error, state = lab.ended(job)
    assert (status, state) == ("failed", "running")
    assert (error or "").startswith("the update to 6.1-r2 was canceled while it ran; rolled back to 6.1")


def test_an_update_that_times_out_is_rolled_back(lab: EngineLab) -> None:
    runs, (status, error, state), _ = _update(lab, deploy_6_1_r2=times_out())

    assert runs == ["backup", "deploy 6.1-r2", "restore", "deploy 6.1"]
    assert (status, state) == ("failed", "running")
    assert "rolled back to 6.1" in (error or "")


def test_a_failed_backup_stops_the_update_before_anything_changed(lab: EngineLab) -> None:
    runs, (status, error, state), version = _update(lab, backup=fails("the repository is locked"))

    assert runs == ["backup"]
    assert (status, state, version) == ("failed", "running", "6.1")
    assert (error or "").startswith("the update to 6.1-r2 was not started, because the backup before it")


def test_a_rollback_that_fails_too_leaves_the_instance_failed_and_names_the_backup(lab: EngineLab) -> None:
    runs, (status, error, state), _ = _update(
        lab, deploy_6_1_r2=fails("a step failed"), deploy_6_1=fails("the old image is gone")
    )

    assert runs == ["backup", "deploy 6.1-r2", "restore", "deploy 6.1"]
    assert (status, state) == ("failed", "failed")
    assert "the rollback to 6.1 failed too: version 6.1 could not be deployed again" in (error or "")
    assert "holds the data" in (error or "")


def test_a_failed_restore_during_the_rollback_leaves_the_instance_failed(lab: EngineLab) -> None:
    runs, (status, error, state), _ = _update(
        lab, deploy_6_1_r2=fails("a step failed"), restore=fails("restic: wrong password")
    )

    assert runs == ["backup", "deploy 6.1-r2", "restore"]
    assert (status, state) == ("failed", "failed")
    assert "the rollback to 6.1 failed too: the restore failed: restic: wrong password" in (error or "")
