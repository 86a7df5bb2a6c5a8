"""The repositories' passwords escrowed to the lab's recovery key: sealed so Debian's ``age`` opens them
with the identity alone, written at a repository's first backup and for older ones at their next,
again when the recipients change, and a backup that cannot write its copy fails before restic runs.

The backup jobs' playbook runs and uploads are scripted; one test writes the copy over SFTP to a real
sshd test server, and one restores a real restic repository with nothing but restic, the copy beside
it and the identity, as docs/backups.md says.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from pyrage import x25519
from sqlalchemy import select

from provisioner.backups import escrow, targets
from provisioner.backups.repository import repository_for
from provisioner.config import Settings
from provisioner.crypto import decrypt
from provisioner.db import transaction
from provisioner.engine.backup_jobs import run_backup_job
from provisioner.engine.sink import DatabaseSink
from provisioner.jobs.service import create_job
from provisioner.jobs.states import JobKind
from provisioner.models import Backup, BackupRepository, Instance, Job
from provisioner.runner.scripted import ScriptedRunner, fails
from tests.support import factories, need
from tests.support.engine import scripted_context
from tests.support.running import running_blog, unused_backup_target
from tests.support.sshd import TestServer

LAB_KEY = x25519.Identity.generate()
SPARE_KEY = x25519.Identity.generate()


def test_a_sealed_password_opens_with_debians_age_and_the_identity_alone(tmp_path: Path) -> None:
    if shutil.which("age") is None:
        need("age (Debian package age)")
    settings = Settings(data_dir=tmp_path, backup_recovery_recipients=f"{LAB_KEY.to_public()}")
    sealed = tmp_path / "ten_x.password.age"
    sealed.write_bytes(escrow.seal(settings, "the-repository-password"))
    identity = tmp_path / "recovery.txt"
    identity.write_text(f"{LAB_KEY}\n")
    opened = subprocess.run(
        ["age", "-d", "-i", str(identity), str(sealed)], capture_output=True, text=True, check=True
    )
    assert opened.stdout == "the-repository-password"
    other = tmp_path / "other.txt"
    other.write_text(f"{SPARE_KEY}\n")
    refused = subprocess.run(["age", "-d", "-i", str(other), str(sealed)], capture_output=True, check=False)
    assert refused.returncode != 0


def test_a_recipient_that_is_none_is_refused_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PROVISIONER_BACKUP_RECOVERY_RECIPIENTS: age1notakey"):
        Settings(data_dir=tmp_path, backup_recovery_recipients="age1notakey-at-all")
    two = Settings(
        data_dir=tmp_path, backup_recovery_recipients=f" {LAB_KEY.to_public()} ,{SPARE_KEY.to_public()}"
    )
    assert two.recovery_recipients == [str(LAB_KEY.to_public()), str(SPARE_KEY.to_public())]


class Uploads:
    """Stands in for the SFTP upload: keeps what would have been written, or fails like a lost target."""

    def __init__(self) -> None:
        self.written: list[tuple[str, str | None]] = []
        self.fail = False

    def __call__(self, settings: Settings, repository: BackupRepository) -> None:
        if self.fail:
            raise escrow.EscrowFailed(
                "the password's recovery copy could not be written to lab: Connection refused"
            )
        self.written.append((escrow.copy_path(repository), escrow.recipients_digest(settings)))


@pytest.fixture
def uploads(monkeypatch: pytest.MonkeyPatch) -> Uploads:
    scripted = Uploads()
    monkeypatch.setattr(escrow, "write_copy", scripted)
    return scripted


@pytest.fixture
def runs() -> ScriptedRunner:
    """Every playbook run fails as on a server that is not there: what counts is whether restic ran."""
    return ScriptedRunner(answer=lambda spec: fails("scripted: no server here"))


def _backup(settings: Settings, runs: ScriptedRunner, blog_id: str | None = None) -> str:
    """One backup job of the blog (made on first call), run to its end; returns the blog's id."""
    with transaction(settings.resolved_database_url) as session:
        if blog_id is None:
            unused_backup_target(session, settings)
            blog = running_blog(session, factories.tenant(session), factories.server(session))
        else:
            blog = session.get_one(Instance, blog_id)
        job = create_job(session, instance=blog, kind=JobKind.BACKUP)
        job.status = "running"
        blog_id, job_id = blog.id, job.id
    run_backup_job(
        scripted_context(settings, runs), job_id, DatabaseSink(settings.resolved_database_url, job_id)
    )
    return blog_id


def _settings(db_url: str, tmp_path: Path, recipients: str) -> Settings:
    key = tmp_path / "id_ed25519"
    key.write_text("not a real key: no run leaves this machine\n")
    return Settings(
        data_dir=tmp_path, database_url=db_url, ssh_key_path=key, backup_recovery_recipients=recipients
    )


def test_the_copy_is_written_once_per_set_of_recipients(
    db_url: str, tmp_path: Path, uploads: Uploads, runs: ScriptedRunner
) -> None:
    before = _settings(db_url, tmp_path, "")
    blog_id = _backup(before, runs)  # a repository made before the lab set a recovery key: no copy
    assert uploads.written == []
    lab = _settings(db_url, tmp_path, str(LAB_KEY.to_public()))
    _backup(lab, runs, blog_id)  # its next backup writes it
    _backup(lab, runs, blog_id)  # and the one after does not again
    with transaction(db_url) as session:
        repository = session.scalars(select(BackupRepository)).one()
        assert uploads.written == [
            (f"/srv/restic/{repository.tenant_id}.password.age", escrow.recipients_digest(lab))
        ]
        assert repository.escrowed_for == escrow.recipients_digest(lab)
    both = _settings(db_url, tmp_path, f"{LAB_KEY.to_public()},{SPARE_KEY.to_public()}")
    _backup(both, runs, blog_id)  # a second recipient: written again for both
    assert [digest for _, digest in uploads.written] == [
        escrow.recipients_digest(lab),
        escrow.recipients_digest(both),
    ]
    assert runs.playbooks == ["backup.yml"] * 4


def test_a_copy_that_cannot_be_written_fails_the_backup_before_restic_runs(
    db_url: str, tmp_path: Path, uploads: Uploads, runs: ScriptedRunner
) -> None:
    uploads.fail = True
    _backup(_settings(db_url, tmp_path, str(LAB_KEY.to_public())), runs)
    assert runs.playbooks == []
    with transaction(db_url) as session:
        job = session.scalars(select(Job)).one()
        assert job.status == "failed"
        assert job.error == (
            "the backup failed: the password's recovery copy could not be written to lab: Connection refused"
        )
        assert session.scalars(select(Backup.status)).all() == ["failed"]
        assert session.scalars(select(BackupRepository.escrowed_for)).one() is None


def test_the_copy_goes_over_sftp_beside_the_repository_and_is_replaced_whole(
    db_url: str, tmp_path: Path, ssh_servers: list[TestServer]
) -> None:
    """A real sshd test server as the backup server: the target's own identity, its pinned host key."""
    if shutil.which("age") is None:
        need("age (Debian package age)")
    backup_server = ssh_servers[1]
    folder = backup_server.root_dir / "escrow-test" / "restic"
    settings = _settings(db_url, tmp_path, str(LAB_KEY.to_public()))
    with transaction(db_url) as session:
        target = targets.add_target(
            session, actor=factories.OPERATOR, settings=settings, name="lab", kind="sftp", path=str(folder),
            address=backup_server.address, port=backup_server.port, user=backup_server.user,
            host_key=backup_server.host_key,
        )  # fmt: skip
        with (backup_server.root_dir.parent / "authorized_keys").open("a") as keys:
            keys.write(f"{target.public_key}\n")
        repository = repository_for(session, settings, tenant_id=factories.tenant(session).id)
        password = decrypt(settings, repository.encrypted_password)
    identity = tmp_path / "recovery.txt"
    identity.write_text(f"{LAB_KEY}\n{SPARE_KEY}\n")
    copy = folder / f"{repository.tenant_id}.password.age"
    try:
        escrow.write_copy(settings, repository)
        first = copy.read_bytes()
        escrow.write_copy(_settings(db_url, tmp_path, str(SPARE_KEY.to_public())), repository)
        assert copy.read_bytes() != first
        assert sorted(p.name for p in folder.iterdir()) == [copy.name]  # no temporary file left
        opened = subprocess.run(
            ["age", "-d", "-i", str(identity), str(copy)], capture_output=True, text=True, check=True
        )
        assert opened.stdout == password
        assert not list((tmp_path / "runs").iterdir())  # the identity's folder is gone
    finally:
        shutil.rmtree(backup_server.root_dir / "escrow-test", ignore_errors=True)


def test_a_repository_opens_with_restic_and_the_recovery_identity_alone(tmp_path: Path) -> None:
    """docs/backups.md's steps on a repository laid out as on a target: restic reads the password
    through RESTIC_PASSWORD_COMMAND from the copy beside the repository, with the identity only."""
    if shutil.which("age") is None or shutil.which("restic") is None:
        need("age and restic (Debian packages age, restic)")
    page = (Path(__file__).parents[3] / "docs" / "backups.md").read_text()
    assert 'export RESTIC_PASSWORD_COMMAND="age -d -i /media/safe/recovery.txt $B/$T.password.age"' in page
    settings = Settings(data_dir=tmp_path, backup_recovery_recipients=str(LAB_KEY.to_public()))
    target, tenant = tmp_path / "srv-restic", "ten_0123456789abcdef"
    data = tmp_path / "volume" / "_data"
    data.mkdir(parents=True)
    (data / "flyer.bin").write_bytes(b"Vereinsfest am Samstag\x00" * 1000)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "RESTIC_CACHE_DIR": str(tmp_path / "cache")}
    made = env | {"RESTIC_PASSWORD": "generated-by-the-control-plane"}
    repository = str(target / tenant)
    subprocess.run(["restic", "-r", repository, "init"], env=made, capture_output=True, check=True)
    subprocess.run(
        ["restic", "-r", repository, "backup", str(data)], env=made, capture_output=True, check=True
    )
    (target / f"{tenant}.password.age").write_bytes(escrow.seal(settings, "generated-by-the-control-plane"))

    identity = tmp_path / "recovery.txt"
    identity.write_text(f"{LAB_KEY}\n")
    recovery = env | {"RESTIC_PASSWORD_COMMAND": f"age -d -i {identity} {target}/{tenant}.password.age"}
    listed = subprocess.run(
        ["restic", "-r", repository, "snapshots", "--json"],
        env=recovery,
        capture_output=True,
        text=True,
        check=True,
    )
    snapshot = json.loads(listed.stdout)[0]["id"]
    subprocess.run(
        ["restic", "-r", repository, "restore", "--target", str(tmp_path / "restore"), "--", snapshot],
        env=recovery, capture_output=True, check=True,
    )  # fmt: skip
    assert (tmp_path / "restore" / data.relative_to("/") / "flyer.bin").read_bytes() == (
        data / "flyer.bin"
    ).read_bytes()
