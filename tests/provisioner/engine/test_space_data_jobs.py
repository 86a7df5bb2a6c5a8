"""Jobs on one space's own data over the scripted runner: a backup into the association's own
repository, a restore of that space alone, a move into a dedicated instance (backup, deploy, load,
then the space's removal), and what a failure at each step leaves."""

from __future__ import annotations

import json

from sqlalchemy import select

from provisioner.db import transaction
from provisioner.jobs.states import JobKind
from provisioner.models import Alert, BackupRepository, Instance, Space, SpaceBackup, SpaceRestore, Tenant
from provisioner.runner.scripted import ScriptedRunner, fails, succeeds
from tests.support import factories
from tests.support.engine_lab import EngineLab, backup_reported, space_data_job
from tests.support.spaces import approved_space, offer_shared


def _running_spaces(lab: EngineLab) -> tuple[str, str]:
    """Two associations' spaces running in one shared WordPress."""
    ids = []
    for slug in ("verein-a", "verein-b"):
        with transaction(lab.url) as session:
            offer_shared(session)
            owner = (
                session.get(Tenant, lab.tenant_id) if slug == "verein-a" else factories.tenant(session, slug)
            )
            assert owner is not None
            space, job = approved_space(session, lab.settings, owner)
            ids.append(space.id)
            job_id = job.id
        lab.run(job_id)
    return ids[0], ids[1]


def _job(lab: EngineLab, kind: JobKind, space_id: str) -> str:
    with transaction(lab.url) as session:
        return space_data_job(session, lab.settings, kind, space_id=space_id).id


def _state(lab: EngineLab, space_id: str) -> str:
    with transaction(lab.url) as session:
        return session.get_one(Space, space_id).state


def _backups(lab: EngineLab, space_id: str) -> list[SpaceBackup]:
    with transaction(lab.url) as session:
        rows = list(session.scalars(select(SpaceBackup).where(SpaceBackup.space_id == space_id)).unique())
        session.expunge_all()
        return rows


def test_a_space_backup_goes_into_its_associations_own_repository_with_the_services_export(
    lab: EngineLab,
) -> None:
    a, _ = _running_spaces(lab)
    job = _job(lab, JobKind.SPACE_BACKUP, a)

    runner = lab.run(job, ScriptedRunner(backup_reported()))

    assert runner.playbooks == ["space-data.yml"]
    assert lab.ended(job) == ("succeeded", None, "running")
    [backup] = _backups(lab, a)
    assert backup.status == "succeeded"
    assert len(backup.snapshot_id or "") == 64
    with transaction(lab.url) as session:
        repository = session.get_one(BackupRepository, backup.repository_id)
        assert repository.tenant_id == lab.tenant_id  # the association's, not the lab's
        shared_id = session.get_one(Space, a).instance_id
    spec = runner.ran[0].variables
    assert spec["action"] == "backup"
    assert spec["container"] == f"prv-{shared_id}-web"
    assert spec["export_argv"] == ["php", "/etc/provisioner/space-data.php"]
    assert spec["in_snapshot"] == f"space-{a}"
    facts = json.loads(spec["space_input"])
    assert facts["action"] == "export"
    assert (facts["space"]["id"], facts["folder"]) == (a, "/tmp/provisioner-space-data")
    assert "admin_password" not in facts["space"]  # the data carries its own accounts
    # The keep rules of an instance's snapshots apply to the space's own, where the server may delete.
    assert spec["keep_options"] == ["--keep-daily", "7", "--keep-weekly", "4", "--keep-monthly", "6"]
    assert str(spec["prune_marker"]).endswith(f"/backup/pruned/{a}")
    assert _state(lab, a) == "running"


def test_a_failed_space_backup_is_recorded_and_leaves_the_space_running(lab: EngineLab) -> None:
    a, _ = _running_spaces(lab)
    job = _job(lab, JobKind.SPACE_BACKUP, a)

    lab.run(job, ScriptedRunner(fails("the space's export exited 1: mariadb-dump failed")))

    status, error, state = lab.ended(job)
    assert (status, state) == ("failed", "running")
    assert error == "the space's backup failed: the space's export exited 1: mariadb-dump failed"
    assert [b.status for b in _backups(lab, a)] == ["failed"]
    assert _state(lab, a) == "running"
    # Told as a failed backup of a service is: the association's admins and the operators hear.
    assert _alerts(lab) == [("space_backup_failed", a, lab.tenant_id, "open")]

    # The space's next good backup clears it.
    lab.run(_job(lab, JobKind.SPACE_BACKUP, a), ScriptedRunner(backup_reported()))
    assert _alerts(lab) == [("space_backup_failed", a, lab.tenant_id, "resolved")]


def _alerts(lab: EngineLab) -> list[tuple[str, str, str | None, str]]:
    with transaction(lab.url) as session:
        return [(x.kind, x.subject_id, x.tenant_id, x.status) for x in session.scalars(select(Alert))]


def test_a_space_restore_imports_into_the_space_alone(lab: EngineLab) -> None:
    a, b = _running_spaces(lab)
    job = _job(lab, JobKind.SPACE_RESTORE, a)

    runner = lab.run(job)

    assert runner.playbooks == ["space-data.yml"]
    assert lab.ended(job) == ("succeeded", None, "running")
    spec = runner.ran[0].variables
    assert (spec["action"], spec["snapshot"]) == ("restore", "ab" * 32)
    facts = json.loads(spec["space_input"])
    assert (facts["action"], facts["into"]) == ("import", "space")
    assert (_state(lab, a), _state(lab, b)) == ("running", "running")


def test_a_space_restore_that_fails_fails_that_space_only(lab: EngineLab) -> None:
    a, b = _running_spaces(lab)
    job = _job(lab, JobKind.SPACE_RESTORE, a)

    lab.run(job, ScriptedRunner(fails("the space's import exited 1: mariadb failed")))

    assert lab.ended(job) == (
        "failed",
        "the space's restore failed: the space's import exited 1: mariadb failed",
        "running",
    )
    assert (_state(lab, a), _state(lab, b)) == ("failed", "running")


def _moved_into(lab: EngineLab, job_id: str) -> Instance:
    with transaction(lab.url) as session:
        instance = session.get_one(SpaceRestore, job_id).instance
        assert instance is not None
        session.expunge(instance)
        return instance


def test_a_move_out_backs_up_deploys_loads_into_the_dedicated_instance_then_removes_the_space(
    lab: EngineLab,
) -> None:
    a, b = _running_spaces(lab)
    job = _job(lab, JobKind.SPACE_MOVE_OUT, a)
    dedicated = _moved_into(lab, job)
    assert (dedicated.state, dedicated.tenant_id, dedicated.shared) == ("approved", lab.tenant_id, False)

    runner = lab.run(job, ScriptedRunner(backup_reported(), succeeds(), succeeds(), succeeds()))

    assert runner.playbooks == ["space-data.yml", "deploy.yml", "space-data.yml", "space.yml"]
    assert lab.ended(job) == ("succeeded", None, "running")  # the shared instance keeps space b
    load = runner.ran[2].variables
    assert load["container"] == f"prv-{dedicated.id}-web"
    assert json.loads(load["space_input"])["into"] == "single"
    assert _moved_into(lab, job).state == "running"
    with transaction(lab.url) as session:
        space = session.get_one(Space, a)
        assert (space.state, space.state_reason) == (
            "removed",
            f"moved into the dedicated instance {dedicated.id}",
        )
    assert _state(lab, b) == "running"
    assert [x.status for x in _backups(lab, a)] == ["succeeded"]


def test_a_move_out_whose_load_fails_keeps_the_space_and_fails_the_new_instance(lab: EngineLab) -> None:
    a, _ = _running_spaces(lab)
    job = _job(lab, JobKind.SPACE_MOVE_OUT, a)

    runner = lab.run(job, ScriptedRunner(backup_reported(), succeeds(), fails("the space's import exited 1")))

    assert runner.playbooks == ["space-data.yml", "deploy.yml", "space-data.yml"]
    status, error, _ = lab.ended(job)
    assert (status, error) == ("failed", "the space's data could not be loaded; the space stays as it was")
    assert _moved_into(lab, job).state == "failed"
    assert _state(lab, a) == "running"


def test_the_last_space_moved_out_takes_its_shared_instance_with_it(lab: EngineLab) -> None:
    a, b = _running_spaces(lab)
    with transaction(lab.url) as session:
        session.get_one(Space, b).state = "removed"
    job = _job(lab, JobKind.SPACE_MOVE_OUT, a)

    runner = lab.run(job, ScriptedRunner(backup_reported(), succeeds(), succeeds(), succeeds(), succeeds()))

    assert runner.playbooks == ["space-data.yml", "deploy.yml", "space-data.yml", "space.yml", "remove.yml"]
    assert lab.ended(job) == ("succeeded", None, "removed")
    assert _moved_into(lab, job).state == "running"
