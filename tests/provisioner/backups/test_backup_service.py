"""Backup targets, per-tenant repositories, who may ask for what, and the backup status flags."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.auth.actor import SYSTEM_ACTOR
from provisioner.backups import service, targets
from provisioner.backups.htpasswd import entry
from provisioner.backups.prune import pruning_of
from provisioner.backups.repository import location, repository_for, restic_variables
from provisioner.backups.runs import backup_spec
from provisioner.config import Settings
from provisioner.crypto import decrypt
from provisioner.db import session_factory
from provisioner.engine import backup_jobs
from provisioner.errors import Conflict, Forbidden, InvalidInput, NotFound
from provisioner.instances.credentials import logins_kept_from, reveal_credentials
from provisioner.instances.service import approve_instance, request_instance, set_state
from provisioner.instances.states import InstanceState
from provisioner.jobs.service import ClaimResult, claim_job, create_job
from provisioner.jobs.states import JobKind
from provisioner.models import (
    Alert,
    Backup,
    BackupRepository,
    BackupTarget,
    DrillResult,
    Instance,
    Job,
    Tenant,
)
from provisioner.tenants.quotas import QuotaExceeded
from provisioner.timeutil import utcnow
from tests.support import factories
from tests.support.engine import scripted_context
from tests.support.factories import HOST_KEY

SETTINGS = Settings()


def _target(session: Session) -> None:
    targets.add_target(
        session,
        actor=factories.OPERATOR,
        settings=SETTINGS,
        name="lab",
        kind="sftp",
        path="/srv/restic/",
        address="192.0.2.20",
        port=2222,
        user="restic",
        host_key=HOST_KEY,
    )


def _running_blog(session: Session, owner: Tenant, template: str = "wordpress") -> Instance:
    instance = request_instance(
        session,
        actor=factories.admin_of(owner),
        catalog=factories.CATALOG,
        template=template,
        name="blog",
        parameters={},
        tenant_id=None,
        settings=SETTINGS,
    )
    approve_instance(
        session,
        actor=factories.OPERATOR,
        catalog=factories.CATALOG,
        instance_id=instance.id,
        server_id=None,
        settings=SETTINGS,
    )
    set_state(instance, InstanceState.PROVISIONING)
    set_state(instance, InstanceState.RUNNING)
    session.flush()
    return instance


def test_each_tenant_has_a_repository_and_password_of_its_own(db_url: str) -> None:
    with session_factory(db_url)() as session:
        _target(session)
        a, b = factories.tenant(session, "verein-a"), factories.tenant(session, "verein-b")
        repo_a = repository_for(session, SETTINGS, tenant_id=a.id)
        repo_b = repository_for(session, SETTINGS, tenant_id=b.id)
        assert repository_for(session, SETTINGS, tenant_id=a.id).id == repo_a.id
        assert location(repo_a) == f"sftp:restic@192.0.2.20:/srv/restic/{a.id}"
        assert location(repo_b) == f"sftp:restic@192.0.2.20:/srv/restic/{b.id}"
        password_a = decrypt(SETTINGS, repo_a.encrypted_password)
        assert len(password_a) >= 40
        assert password_a != decrypt(SETTINGS, repo_b.encrypted_password)
        assert password_a not in repo_a.encrypted_password


def test_restic_gets_its_password_in_the_environment_and_pins_the_host_key(db_url: str) -> None:
    with session_factory(db_url)() as session:
        _target(session)
        owner = factories.tenant(session)
        server = factories.server(session)
        repository = repository_for(session, SETTINGS, tenant_id=owner.id)
        variables = restic_variables(SETTINGS, repository, server)
        password = decrypt(SETTINGS, repository.encrypted_password)
        assert variables["env"]["RESTIC_PASSWORD"] == password
        assert not any(password in word for word in variables["argv"])
        sftp = next(word for word in variables["argv"] if word.startswith("sftp.command="))
        assert "StrictHostKeyChecking=yes" in sftp
        assert "-p 2222" in sftp
        assert variables["identity"]["known_hosts"] == f"[192.0.2.20]:2222 {HOST_KEY}\n"
        assert variables["identity"]["key"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
        # A folder of each run's own, removed when the run ends (two runs on one server never share it).
        folder = variables["identity"]["dir"]
        assert folder.startswith(f"{server.root_dir}/backup/run-")
        assert f"-i {folder}/id_ed25519" in sftp
        assert restic_variables(SETTINGS, repository, server)["identity"]["dir"] != folder
        # restic's cache is the association's own on the server (its removal there deletes it).
        assert variables["env"]["RESTIC_CACHE_DIR"] == f"{server.root_dir}/backup/cache/{owner.id}"


def test_targets_are_for_operators_and_need_a_pinned_host_key(db_url: str) -> None:
    with session_factory(db_url)() as session:
        owner = factories.tenant(session)
        with pytest.raises(Forbidden):
            targets.list_targets(session, actor=factories.admin_of(owner))
        with pytest.raises(InvalidInput) as refused:
            targets.add_target(
                session, actor=factories.OPERATOR, settings=SETTINGS, name="lab", kind="sftp",
                path="/srv", address="192.0.2.20", user="restic",
            )  # fmt: skip
        assert refused.value.errors == [{"field": "body.host_key", "message": refused.value.detail}]


def _s3_target(session: Session, endpoint: str, path: str = "backups/lab/") -> str | None:
    return targets.add_target(
        session, actor=factories.OPERATOR, settings=SETTINGS, name="s3", kind="s3", path=path,
        s3_endpoint=endpoint, s3_access_key_id="AKIAEXAMPLE", s3_secret_access_key="not-in-the-url",
    ).s3_endpoint  # fmt: skip


def test_an_s3_target_names_restic_a_bucket_and_keeps_its_keys_in_the_environment(db_url: str) -> None:
    with session_factory(db_url)() as session:
        owner = factories.tenant(session)
        server = factories.server(session)
        assert _s3_target(session, "http://192.0.2.30:9000/") == "http://192.0.2.30:9000"
        repository = repository_for(session, SETTINGS, tenant_id=owner.id)
        assert location(repository) == f"s3:http://192.0.2.30:9000/backups/lab/{owner.id}"
        variables = restic_variables(SETTINGS, repository, server)
        assert variables["argv"] == ["restic", "--repo", location(repository)]
        assert variables["env"]["AWS_ACCESS_KEY_ID"] == "AKIAEXAMPLE"
        assert variables["env"]["AWS_SECRET_ACCESS_KEY"] == "not-in-the-url"
        assert variables["identity"] is None


@pytest.mark.parametrize(
    ("endpoint", "path", "field"),
    [
        ("s3.example.org", "backups", "body.s3_endpoint"),  # restic would guess the scheme
        ("ftp://s3.example.org", "backups", "body.s3_endpoint"),
        ("https://key:secret@s3.example.org", "backups", "body.s3_endpoint"),  # restic prints the URL
        ("https://s3.example.org/backups", "lab", "body.s3_endpoint"),  # would be read as the bucket
        ("https://s3.example.org", "/", "body.path"),  # no bucket
    ],
)
def test_an_s3_target_is_refused_where_restic_could_not_use_it(
    db_url: str, endpoint: str, path: str, field: str
) -> None:
    with session_factory(db_url)() as session, pytest.raises(InvalidInput) as refused:
        _s3_target(session, endpoint, path)
    assert refused.value.errors == [{"field": field, "message": refused.value.detail}]


def test_backups_need_a_target_and_stay_within_the_tenant(db_url: str) -> None:
    with session_factory(db_url)() as session:
        factories.server(session)
        owner, other = factories.tenant(session, "verein-a"), factories.tenant(session, "verein-b")
        blog = _running_blog(session, owner)
        with pytest.raises(Conflict, match="no backup target"):
            service.request_backup(
                session, actor=factories.admin_of(owner), catalog=factories.CATALOG, instance_id=blog.id
            )
        _target(session)
        job = service.request_backup(
            session, actor=SYSTEM_ACTOR, catalog=factories.CATALOG, instance_id=blog.id
        )
        assert (job.kind, job.requested_by) == (JobKind.BACKUP.value, "system")
        stranger = factories.admin_of(other)
        with pytest.raises(NotFound):
            service.request_backup(session, actor=stranger, catalog=factories.CATALOG, instance_id=blog.id)
        with pytest.raises(NotFound):
            service.list_backups(session, actor=stranger, instance_id=blog.id)
        with pytest.raises(NotFound):
            service.request_drill(session, actor=stranger, instance_id=blog.id)
        with pytest.raises(Conflict, match="no succeeded backup"):
            service.request_drill(session, actor=SYSTEM_ACTOR, instance_id=blog.id)


def test_a_restore_names_a_succeeded_backup_of_that_instance(db_url: str) -> None:
    with session_factory(db_url)() as session:
        factories.server(session)
        _target(session)
        owner = factories.tenant(session)
        blog = _running_blog(session, owner)
        admin = factories.admin_of(owner)
        with pytest.raises(InvalidInput) as refused:
            service.request_restore(
                session, actor=admin, catalog=factories.CATALOG, instance_id=blog.id, backup_id="bak_nope"
            )
        assert refused.value.errors[0]["field"] == "body.backup"  # type: ignore[index]
        failed = _backup(session, blog, "failed")
        with pytest.raises(Conflict, match="only a succeeded backup"):
            service.request_restore(
                session, actor=admin, catalog=factories.CATALOG, instance_id=blog.id, backup_id=failed.id
            )
        good = _backup(session, blog, "succeeded")
        with pytest.raises(InvalidInput) as nameless:
            service.request_restore(
                session,
                actor=admin,
                catalog=factories.CATALOG,
                instance_id=blog.id,
                backup_id=good.id,
                into="new",
            )
        assert nameless.value.errors[0]["field"] == "body.name"  # type: ignore[index]
        asked = service.request_restore(
            session, actor=admin, catalog=factories.CATALOG, instance_id=blog.id, backup_id=good.id,
            into="new", name="copy", settings=SETTINGS,
        )  # fmt: skip
        # An association's copy waits for approval like any request: not placed, nothing to run.
        clone = asked.instance
        assert asked.job is None
        assert (clone.state, clone.server_id, clone.copy_of_backup_id) == ("requested", None, good.id)
        job = approve_instance(
            session, actor=factories.OPERATOR, catalog=factories.CATALOG, instance_id=clone.id, server_id=None
        )
        assert (job.kind, job.instance_id, clone.state, clone.copy_of_backup_id) == (
            "restore", clone.id, "approved", None
        )  # fmt: skip
        assert (clone.tenant_id, clone.template) == (owner.id, "wordpress")
        assert clone.subdomain == "copy-verein-a"
        # The restored database knows the source's passwords, so the clone takes them over; all but the
        # admin's, which gets one of its own (the restore's reset steps make it the valid one).
        hidden = {s.name: s.encrypted for s in clone.secrets if not s.shown}
        assert hidden == {s.name: s.encrypted for s in blog.secrets if not s.shown}
        assert _shown(clone) != _shown(blog)
        # Its admin is shown that first access once, as for the source.
        assert {s.name: s.shown for s in clone.secrets} == {s.name: s.shown for s in blog.secrets}
        template = factories.CATALOG.get("wordpress")
        shown = reveal_credentials(session, SETTINGS, actor=admin, instance=clone, template=template)
        assert shown.values == _shown(clone)
        assert service.restore_of(session, job_id=job.id).id == good.id


def test_a_copy_that_cannot_get_an_admin_password_of_its_own_says_whose_logins_it_keeps(
    db_url: str,
) -> None:
    """Nextcloud keeps its admin in its own database and has no reset steps: its copy keeps every
    secret of the original, and asking for its credentials names the original instead of showing a
    password its restored data may not know."""
    with session_factory(db_url)() as session:
        factories.server(session, memory_mb=4096)
        factories.server(session, "s2", memory_mb=4096)  # room for the copy
        _target(session)
        owner = factories.tenant(session)
        cloud = _running_blog(session, owner, template="nextcloud")
        good = _backup(session, cloud, "succeeded")
        copy = service.request_restore(
            session, actor=factories.OPERATOR, catalog=factories.CATALOG, instance_id=cloud.id,
            backup_id=good.id, into="new", name="cloud-copy", settings=SETTINGS,
        ).instance  # fmt: skip
        assert {s.name: s.encrypted for s in copy.secrets} == {s.name: s.encrypted for s in cloud.secrets}
        template = factories.CATALOG.get("nextcloud")
        assert logins_kept_from(session, instance=copy, template=template) == good
        admin = factories.admin_of(owner)
        with pytest.raises(Conflict, match="cloud-copy is a copy of blog made from its backup of") as kept:
            reveal_credentials(session, SETTINGS, actor=admin, instance=copy, template=template)
        assert "keeps the accounts and passwords blog had then" in kept.value.detail
        assert copy.credentials_revealed_at is None
        # The original itself shows its own, as before.
        assert logins_kept_from(session, instance=cloud, template=template) is None
        assert set(
            reveal_credentials(session, SETTINGS, actor=admin, instance=cloud, template=template).values
        ) == {"admin_password"}


def _shown(instance: Instance) -> dict[str, str]:
    return {s.name: decrypt(SETTINGS, s.encrypted) for s in instance.secrets if s.shown}


def _backup(session: Session, instance: Instance, status: str) -> Backup:
    repository = repository_for(session, SETTINGS, tenant_id=instance.tenant_id)
    row = Backup(
        instance_id=instance.id, repository_id=repository.id, status=status, version=instance.version,
        snapshot_id="abcd1234" if status == "succeeded" else None,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def test_backup_status_flags_failures_and_old_drills(db_url: str) -> None:
    with session_factory(db_url)() as session:
        factories.server(session)
        _target(session)
        blog = _running_blog(session, factories.tenant(session))
        assert service.backup_status(session, SETTINGS, instance_id=blog.id).flag is None
        _backup(session, blog, "succeeded")
        assert service.backup_status(session, SETTINGS, instance_id=blog.id).flag == (
            f"no restore drill in the last {SETTINGS.drill_max_age_days} days"
        )
        drill = DrillResult(instance_id=blog.id, job_id="job_x", status="passed")
        session.add(drill)
        session.flush()
        assert service.backup_status(session, SETTINGS, instance_id=blog.id).flag is None
        drill.created_at = utcnow() - timedelta(days=SETTINGS.drill_max_age_days + 1)
        session.flush()
        assert service.backup_status(session, SETTINGS, instance_id=blog.id).flag is not None
        session.add(DrillResult(instance_id=blog.id, job_id="job_y", status="failed"))
        session.flush()
        found = service.backup_status(session, SETTINGS, instance_id=blog.id)
        assert (found.last_drill_status, found.flag) == ("failed", "the last restore drill failed")
        assert [
            d.job_id for d in service.list_drills(session, actor=SYSTEM_ACTOR, instance_id=None, failed=True)
        ] == ["job_y"]
        _backup(session, blog, "failed")
        assert service.backup_status(session, SETTINGS, instance_id=blog.id).flag == "the last backup failed"


def _claim(db_url: str, job_id: str) -> None:
    """The worker's claim: a job is settled only while it runs."""
    with session_factory(db_url)() as session:
        assert claim_job(session, job_id=job_id, worker="w1") == ClaimResult.CLAIMED
        session.commit()


def test_a_failed_backup_raises_an_alert_and_the_next_good_one_resolves_it(db_url: str) -> None:
    ctx = scripted_context(Settings(database_url=db_url))
    with session_factory(db_url)() as session:
        factories.server(session)
        _target(session)
        owner = factories.tenant(session)
        blog = _running_blog(session, owner)
        failing = create_job(session, instance=blog, kind=JobKind.BACKUP)
        passing = create_job(session, instance=blog, kind=JobKind.BACKUP)
        session.commit()
        ids = blog.id, owner.id, failing.id, passing.id
    blog_id, owner_id, failing_id, passing_id = ids
    _claim(db_url, failing_id)
    backup_jobs.finish_backup_job(ctx, failing_id, error="the backup failed: disk full", state=None)
    with session_factory(db_url)() as session:
        alert = session.scalars(select(Alert)).one()
        assert (alert.kind, alert.subject_id, alert.tenant_id) == ("backup_failed", blog_id, owner_id)
        assert alert.status == "open"
        assert "disk full" in alert.summary
    _claim(db_url, passing_id)
    backup_jobs.finish_backup_job(ctx, passing_id, error=None, state=None)
    with session_factory(db_url)() as session:
        assert session.scalars(select(Alert)).one().status == "resolved"
        assert session.get_one(Job, passing_id).status == "succeeded"


def test_a_copy_counts_against_the_quota_like_any_new_instance(db_url: str) -> None:
    with session_factory(db_url)() as session:
        factories.server(session, memory_mb=10**6)
        _target(session)
        owner = factories.tenant(session)
        blog = _running_blog(session, owner)
        good = _backup(session, blog, "succeeded")
        owner.quota_instances = 1
        with pytest.raises(QuotaExceeded, match="instances: 1 in use, 1 more asked, quota 1"):
            service.request_restore(
                session, actor=factories.admin_of(owner), catalog=factories.CATALOG, instance_id=blog.id,
                backup_id=good.id, into="new", name="copy", settings=SETTINGS,
            )  # fmt: skip
        copies = select(Instance).where(Instance.name == "copy")
        assert session.scalars(copies).first() is None


def test_an_operators_copy_starts_at_once(db_url: str) -> None:
    with session_factory(db_url)() as session:
        factories.server(session, memory_mb=10**6)
        _target(session)
        blog = _running_blog(session, factories.tenant(session))
        good = _backup(session, blog, "succeeded")
        accepted = service.request_restore(
            session, actor=factories.OPERATOR, catalog=factories.CATALOG, instance_id=blog.id,
            backup_id=good.id, into="new", name="copy", settings=SETTINGS,
        )  # fmt: skip
        assert accepted.job is not None
        assert (accepted.job.kind, accepted.instance.state) == ("restore", "approved")
        assert accepted.instance.server_id is not None
        assert service.restore_of(session, job_id=accepted.job.id).id == good.id


def _rest_target(session: Session, htpasswd: str, **changed: str) -> BackupTarget:
    fields = {
        "rest_url": "http://192.0.2.40:8000/", "rest_admin_url": "http://10.0.0.1:8001",
        "htpasswd_file": htpasswd, "rest_admin_user": "lab", "rest_admin_password": "full-access",
    } | changed  # fmt: skip
    return targets.add_target(
        session, actor=factories.OPERATOR, settings=SETTINGS, name="rest", kind="rest", path="/srv/restic",
        **fields,
    )  # fmt: skip


def test_a_rest_target_gives_each_tenant_its_own_user_only_in_the_environment(
    db_url: str, tmp_path: Path
) -> None:
    htpasswd = tmp_path / "htpasswd"
    with session_factory(db_url)() as session:
        one, other = factories.tenant(session), factories.tenant(session, "verein-b")
        server = factories.server(session)
        target = _rest_target(session, str(htpasswd))
        assert (target.rest_url, target.rest_admin_url) == ("http://192.0.2.40:8000", "http://10.0.0.1:8001")
        assert "full-access" not in target.encrypted_credentials
        mine = repository_for(session, SETTINGS, tenant_id=one.id)
        theirs = repository_for(session, SETTINGS, tenant_id=other.id)
        assert location(mine) == f"rest:http://192.0.2.40:8000/{one.id}/"
        variables = restic_variables(SETTINGS, mine, server)
        restic_variables(SETTINGS, theirs, server)
        assert mine.encrypted_rest_password is not None
        password = decrypt(SETTINGS, mine.encrypted_rest_password)
        assert password != decrypt(SETTINGS, mine.encrypted_password)
        # restic 0.14 takes the user's password only in the URL: it travels in the environment.
        assert variables["argv"] == ["restic"]
        assert (
            variables["env"]["RESTIC_REPOSITORY"]
            == f"rest:http://{one.id}:{password}@192.0.2.40:8000/{one.id}/"
        )
        assert variables["identity"] is None
        assert "full-access" not in str(variables)
        # The REST server's users: one per tenant, each line made once, whatever the number of runs.
        assert htpasswd.read_text().splitlines() == [entry(one.id, password), entry(other.id, _rest(theirs))]
        assert targets.ISOLATION["rest"].startswith("one append-only credential per association")


def _rest(repository: BackupRepository) -> str:
    assert repository.encrypted_rest_password is not None
    return decrypt(SETTINGS, repository.encrypted_rest_password)


@pytest.mark.parametrize(
    ("changed", "field"),
    [
        ({"rest_url": "http://u:p@192.0.2.40:8000"}, "body.rest_url"),  # restic prints the URL
        ({"rest_url": "http://192.0.2.40:8000/lab"}, "body.rest_url"),  # the tenant's folder is added
        ({"rest_admin_url": "http://192.0.2.40:8000"}, "body.rest_admin_url"),  # the servers' own
        ({"htpasswd_file": "htpasswd"}, "body.htpasswd_file"),
        ({"rest_admin_password": ""}, "body.rest_admin_user"),
    ],
)
def test_a_rest_target_is_refused_where_it_would_not_confine_the_servers(
    db_url: str, tmp_path: Path, changed: dict[str, str], field: str
) -> None:
    with session_factory(db_url)() as session, pytest.raises(InvalidInput) as refused:
        _rest_target(session, str(tmp_path / "htpasswd"), **changed)
    assert refused.value.errors == [{"field": field, "message": refused.value.detail}]


def test_on_a_rest_target_the_server_applies_no_retention_and_the_control_plane_does(
    db_url: str, tmp_path: Path
) -> None:
    with session_factory(db_url)() as session:
        _rest_target(session, str(tmp_path / "htpasswd"))
        owner = factories.tenant(session)
        factories.server(session)
        blog = _running_blog(session, owner)
        repository = repository_for(session, SETTINGS, tenant_id=owner.id)
        key = tmp_path / "id_ed25519"
        key.write_text("not read here")
        spec = backup_spec(Settings(ssh_key_path=key), factories.CATALOG.get(blog.template), blog, repository)
        assert spec.variables["keep_options"] == []
        pruning = pruning_of(SETTINGS, repository)
    assert pruning.argv == [
        "restic", "--no-cache", "forget", "--prune", "--group-by", "host",
        "--keep-daily", "7", "--keep-weekly", "4", "--keep-monthly", "6",
    ]  # fmt: skip
    assert pruning.env["RESTIC_REPOSITORY"] == f"rest:http://lab:full-access@10.0.0.1:8001/{owner.id}/"
    assert "full-access" not in repr(pruning)


def test_a_backup_reads_only_the_dump_of_a_rebuilt_database_and_prunes_when_due(
    db_url: str, tmp_path: Path
) -> None:
    with session_factory(db_url)() as session:
        _target(session)
        owner = factories.tenant(session)
        factories.server(session)
        blog = _running_blog(session, owner)
        repository = repository_for(session, SETTINGS, tenant_id=owner.id)
        key = tmp_path / "id_ed25519"
        key.write_text("not read here")
        spec = backup_spec(Settings(ssh_key_path=key), factories.CATALOG.get(blog.template), blog, repository)
    # The server prunes this instance's snapshots at most once per interval, its time kept here.
    assert spec.variables["prune_marker"] == f"/srv/provisioner/backup/pruned/{blog.id}"
    assert spec.variables["prune_every_seconds"] == 86400
    assert spec.variables["keep_options"] == [
        "--keep-daily",
        "7",
        "--keep-weekly",
        "4",
        "--keep-monthly",
        "6",
    ]
    # WordPress: its database comes back from backup.sql only; its files volume is copied whole, and
    # so is the one holding its WXR.
    assert spec.variables["backup_paths"] == [
        f"prv-{blog.id}-db/_data/backup.sql",
        f"prv-{blog.id}-content/_data",
        f"prv-{blog.id}-wxr/_data",
    ]
