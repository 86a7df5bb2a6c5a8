"""Jobs on one space's own data over the scripted runner: a backup into the association's own
repository, a restore of that space alone, an export of it (from a fresh backup of it), a move into a
dedicated instance (backup, deploy, load, then the space's removal), and what a failure at each step
leaves."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from provisioner.crypto import decrypt
from provisioner.db import transaction
from provisioner.exports import space_making
from provisioner.exports.archive import RestoredPart
from provisioner.exports.restored import RestoreFailed
from provisioner.exports.space import request_space_export
from provisioner.jobs.states import JobKind
from provisioner.models import (
    Alert,
    BackupRepository,
    Instance,
    Space,
    SpaceBackup,
    SpaceRestore,
    Tenant,
)
from provisioner.runner.scripted import ScriptedRunner, fails, succeeds
from tests.support import factories
from tests.support.engine_lab import EngineLab, backup_reported, space_data_job
from tests.support.exports import export_of, unsealed
from tests.support.spaces import approved_space, offer_shared, space_restored


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


@pytest.fixture
def _no_restic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(space_making, "restore_space_for_export", space_restored)


def _space_export(lab: EngineLab, space_id: str) -> str:
    with transaction(lab.url) as session:
        admin = factories.admin_of(session.get_one(Space, space_id).tenant)
        return request_space_export(session, actor=admin, catalog=factories.CATALOG, space_id=space_id).job.id


@pytest.mark.usefixtures("_no_restic")
def test_a_space_export_is_made_from_a_fresh_backup_of_the_space_alone(lab: EngineLab) -> None:
    a, b = _running_spaces(lab)
    job = _space_export(lab, a)

    runner = lab.run(job, ScriptedRunner(backup_reported()))

    assert runner.playbooks == ["space-data.yml"]
    assert (runner.ran[0].variables["action"], runner.ran[0].variables["in_snapshot"]) == (
        "backup",
        f"space-{a}",
    )
    assert lab.ended(job) == ("succeeded", None, "running")
    [backup] = _backups(lab, a)
    assert _backups(lab, b) == []
    export = export_of(lab.url, job)
    assert (export.state, export.space_id, export.instance_id, export.backup_id) == (
        "ready",
        a,
        None,
        backup.id,
    )
    files = unsealed(lab.settings, export)
    assert sorted(files) == [
        "README.txt",
        "SHA256SUMS",
        "manifest.json",
        "spaces/web/configuration.json",
        "spaces/web/members.json",
        "spaces/web/tables.sql",
        "spaces/web/uploads/2026/11/flyer.bin",
    ]
    assert files["spaces/web/tables.sql"] == f"-- news of {a}\n".encode()
    assert files["spaces/web/uploads/2026/11/flyer.bin"] == f"flyer of {a}".encode()
    [entry] = json.loads(files["manifest.json"])["services"]
    assert (entry["name"], entry["template"], entry["space"]) == ("web", "wordpress", True)
    assert [(p["name"], p["kind"]) for p in entry["parts"]] == [
        ("configuration", "configuration"),
        ("tables", "sql"),
        ("members", "file"),
        ("uploads", "files"),
    ]
    configuration = json.loads(files["spaces/web/configuration.json"])
    with transaction(lab.url) as session:
        space = session.get_one(Space, a)
        assert (configuration["address"], configuration["parameters"]) == (space.url, {})
        # None of the shared instance's secrets: its parameters are the lab's, not the association's.
        secrets = [decrypt(lab.settings, s.encrypted) for s in space.instance.secrets]  # type: ignore[union-attr]
    assert secrets
    assert not any(secret.encode() in body for secret in secrets for body in files.values())
    readme = files["README.txt"].decode()
    assert "Bereich „web“ im gemeinsam genutzten wordpress des Labs" in readme  # the association's language
    assert "Die Tabellen der Webseite" in readme  # the template's own words
    assert "export ready" in " ".join(lab.lines(job))
    assert _state(lab, a) == "running"


@pytest.mark.usefixtures("_no_restic")
def test_a_failed_backup_fails_the_space_export_and_leaves_nothing(lab: EngineLab) -> None:
    a, _ = _running_spaces(lab)
    job = _space_export(lab, a)

    lab.run(job, ScriptedRunner(fails("the space's export exited 1: mariadb-dump failed")))

    error = "the space's backup failed: the space's export exited 1: mariadb-dump failed"
    assert lab.ended(job) == ("failed", error, "running")
    export = export_of(lab.url, job)
    assert (export.state, export.error, export.file) == ("failed", error, None)
    assert _state(lab, a) == "running"
    folder = lab.settings.resolved_exports_dir
    assert not folder.exists() or list(folder.iterdir()) == []


def test_a_restore_that_fails_fails_the_space_export_and_leaves_nothing(
    lab: EngineLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> list[RestoredPart]:
        raise RestoreFailed("restoring the backup failed: repository is locked")

    monkeypatch.setattr(space_making, "restore_space_for_export", broken)
    a, _ = _running_spaces(lab)
    job = _space_export(lab, a)

    lab.run(job, ScriptedRunner(backup_reported()))

    assert lab.ended(job) == ("failed", "restoring the backup failed: repository is locked", "running")
    assert export_of(lab.url, job).state == "failed"
    assert [b.status for b in _backups(lab, a)] == ["succeeded"]  # the backup itself stays
    assert list(lab.settings.resolved_exports_dir.iterdir()) == []


def test_a_space_that_stopped_running_before_its_export_ran_is_not_exported(lab: EngineLab) -> None:
    a, _ = _running_spaces(lab)
    job = _space_export(lab, a)
    with transaction(lab.url) as session:
        session.get_one(Space, a).state = "failed"

    runner = lab.run(job)

    assert runner.playbooks == []
    error = "the space is failed; only a running space can be exported"
    assert lab.ended(job)[:2] == ("failed", error)
    assert (export_of(lab.url, job).state, _backups(lab, a)) == ("failed", [])
