"""The backup and restore playbooks on a real sshd test server with a real Docker volume and restic.

The repository here is a folder on the server itself (restic's local backend): what is under test is
the playbooks' own steps; the SFTP path to a backup server is covered end to end in
tests/e2e/test_backups_wordpress.py. A REST target (a real rclone serving restic's REST protocol) is
covered here too, with the credentials the control plane makes for it.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from provisioner.backups.reported import check_report
from provisioner.backups.repository import repository_for, restic_variables
from provisioner.backups.runs import LOAD_THROUGH_STDIN
from provisioner.backups.steps import REPORT_TASK
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.models import Server
from provisioner.runner.adapter import run_playbook
from provisioner.runner.spec import HostSpec, RunSpec
from tests.support import factories
from tests.support.db import migrated
from tests.support.rest_server import add_rest_target, rest_server, run_restic, tenant_password
from tests.support.sinks import CollectingSink
from tests.support.sshd import TestServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def volume(docker_client: docker.DockerClient) -> Iterator[Any]:
    found = docker_client.volumes.create(f"prv-test{secrets.token_hex(4)}-data")
    try:
        yield found
    finally:
        found.remove(force=True)


def _spec(server: TestServer, playbook: str, variables: dict[str, Any]) -> RunSpec:
    return RunSpec(
        playbook=playbook,
        playbooks_dir=Settings().resolved_playbooks_dir,
        host=HostSpec(server.name, server.address, server.port, server.user, "ssh", server.host_key),
        variables=variables,
        ssh_private_key=server.client_key.read_text(),
        timeout_seconds=300,
    )


def _restic(tmp_path: Path, password: str) -> dict[str, Any]:
    return {"argv": ["restic", "--repo", str(tmp_path / "repo")], "env": {"RESTIC_PASSWORD": password}}


def _variables(
    tmp_path: Path, volume: Any, password: str, in_snapshot: str = "", **more: Any
) -> dict[str, Any]:
    return {
        "restic": _restic(tmp_path, password) | {"identity": None},
        "volumes": [{"name": "data", "docker": volume.name, "in_snapshot": in_snapshot, "copied": True}],
        "min_free_mb": 1,
        "before_steps": [],
        "after_steps": [],
        **more,
    }


def _restore(tmp_path: Path, **more: Any) -> dict[str, Any]:
    """What restore.yml needs beyond the volumes: here no containers, files or databases of an instance."""
    return {
        "containers": [], "work_dir": str(tmp_path / "restore-work"), "databases": [], "start_first": [],
        "start_then": [], "files": [], "instance_dir": str(tmp_path / "instance"), "network": "none",
        "labels": {}, "launcher": None,
    } | more  # fmt: skip


@dataclass(frozen=True)
class Identities:
    identity: dict[str, str]
    folder: Path
    running: Path


def _identities(server: TestServer) -> Identities:
    """A run's identity for the backup server, one an earlier version kept, one a killed run left two
    days ago, and one of a run still going on."""
    # The server's backup folder, of this test alone (the test servers live for the whole session).
    backup = server.root_dir / f"backup-{secrets.token_hex(4)}"
    kept_before, killed, running = backup / "bkt_x", backup / "run-killed", backup / "run-running"
    for folder in (kept_before, killed, running):
        folder.mkdir(parents=True)
        (folder / "id_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    two_days_ago = time.time() - 2 * 86400
    os.utime(killed, (two_days_ago, two_days_ago))
    identity = {
        "dir": str(backup / f"run-{secrets.token_hex(8)}"),
        "kept_before": str(kept_before),
        "key": "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n-----END OPENSSH PRIVATE KEY-----\n",
        "known_hosts": "192.0.2.20 ssh-ed25519 AAAA\n",
    }
    return Identities(identity=identity, folder=backup, running=running)


def test_backup_then_restore_brings_a_volume_back_and_never_shows_the_password(
    tmp_path: Path, ssh_servers: list[TestServer], volume: Any, docker_client: docker.DockerClient
) -> None:
    server = ssh_servers[0]
    password = secrets.token_urlsafe(32)
    folder = Path(volume.attrs["Mountpoint"])
    content = os.urandom(100_000)
    (folder / "upload.bin").write_bytes(content)
    backup = _variables(
        tmp_path, volume, password, instance_id="ins_test", tag_options=["--tag", "ins_test"],
        keep_options=["--keep-daily", "7"], backup_paths=[f"{volume.name}/_data"],
        prune_marker=str(tmp_path / "pruned" / "ins_test"), prune_every_seconds=86400,
    )  # fmt: skip
    identities = _identities(server)
    backup["restic"]["identity"] = identities.identity
    sink = CollectingSink()
    outcome = run_playbook(_spec(server, "backup.yml", backup), sink, work_root=tmp_path / "runs")
    assert outcome.status == "successful", outcome.error
    assert all(password not in e.line and password not in e.stdout for e in sink.events)
    # The identity was there for the run (the backup's one task placed it, then removed it itself, so the
    # block's removal was skipped) and is gone with it, with what earlier versions and killed runs left;
    # a run still going on keeps its own.
    placed = [e for e in sink.events if e.task == "Back up the volumes with restic" and e.status != "info"]
    assert [e.status for e in placed] == ["changed"]
    assert [e.status for e in sink.events if e.task == "Remove the identity for the backup server"] == [
        "info", "skipped"
    ]  # fmt: skip
    assert all(identities.identity["key"] not in e.stdout for e in sink.events)
    assert list(identities.folder.iterdir()) == [identities.running]
    report = next(e.stdout for e in sink.events if e.task == REPORT_TASK and e.status == "ok")
    snapshot = check_report(json.loads(report.split("=> ", 1)[1])["msg"]).snapshot_id
    # The retention policy ran (none was due before) and its time is kept for the next backup.
    assert (tmp_path / "pruned" / "ins_test").is_file()
    # The snapshot holds the volume under a path named by us, not under Docker's folder on the server.
    listed = _run_restic(tmp_path, password, "ls", "--json", "--", snapshot)
    assert f'"path":"/{volume.name}/_data/upload.bin"' in listed

    (folder / "upload.bin").unlink()
    restore = _variables(
        tmp_path, volume, password, f"/{volume.name}/_data", snapshot=snapshot, **_restore(tmp_path)
    )
    restore["restic"]["identity"] = identities.identity | {"dir": str(identities.folder / "run-restore")}
    sink = CollectingSink()
    outcome = run_playbook(_spec(server, "restore.yml", restore), sink, work_root=tmp_path / "runs")
    assert outcome.status == "successful", outcome.error
    assert hashlib.sha256((folder / "upload.bin").read_bytes()).digest() == hashlib.sha256(content).digest()
    assert not (tmp_path / "restore-work").exists()
    assert list(identities.folder.iterdir()) == [identities.running]
    assert all(password not in e.line and password not in e.stdout for e in sink.events)


def test_a_backup_refuses_to_start_without_free_disk_space(
    tmp_path: Path, ssh_servers: list[TestServer], volume: Any
) -> None:
    variables = _variables(
        tmp_path, volume, "pw", instance_id="ins_test", tag_options=[], keep_options=[], min_free_mb=10**9,
        backup_paths=[f"{volume.name}/_data"],
    )  # fmt: skip
    sink = CollectingSink()
    outcome = run_playbook(_spec(ssh_servers[0], "backup.yml", variables), sink, work_root=tmp_path / "runs")
    assert outcome.status == "failed"
    assert outcome.error is not None
    assert "not enough free disk space on the server" in outcome.error
    assert "at least 1000000000 MB needed" in outcome.error
    assert [e.task for e in sink.events if e.status == "failed"] == ["Back up the volumes with restic"]
    assert not (tmp_path / "repo").exists(), "the repository is made only when there is room"


def _run_restic(tmp_path: Path, password: str, *argv: str, cwd: Path | None = None) -> str:
    return run_restic(_restic(tmp_path, password), *argv, cwd=cwd).stdout


def test_a_restore_refuses_a_snapshot_made_by_a_compromised_server(
    tmp_path: Path, ssh_servers: list[TestServer], volume: Any, docker_client: docker.DockerClient
) -> None:
    """A snapshot whose volume folder is a symbolic link to another instance's volume on the server
    that restores it, and a snapshot id that restic would read as an option: nothing is copied and
    nothing runs."""
    password = secrets.token_urlsafe(32)
    _run_restic(tmp_path, password, "init")
    victim = docker_client.volumes.create(f"prv-victim{secrets.token_hex(4)}-data")
    try:
        (Path(victim.attrs["Mountpoint"]) / "their.txt").write_text("another association's data")
        made = tmp_path / "made" / volume.name
        made.mkdir(parents=True)
        (made / "_data").symlink_to(victim.attrs["Mountpoint"])
        _run_restic(tmp_path, password, "backup", "--quiet", "--", f"{volume.name}/_data", cwd=made.parent)
        snapshot = json.loads(_run_restic(tmp_path, password, "snapshots", "--json"))[0]["id"]
        marker = tmp_path / "ran"
        for shown in (snapshot, f"--password-command=touch {marker}"):
            variables = _variables(
                tmp_path, volume, password, f"/{volume.name}/_data", snapshot=shown, **_restore(tmp_path)
            )
            sink = CollectingSink()
            outcome = run_playbook(_spec(ssh_servers[0], "restore.yml", variables), sink, work_root=tmp_path)
            assert outcome.status == "failed"
            assert outcome.error is not None
            assert "Restore the snapshot and put it in place of the volumes" in outcome.error
            if shown == snapshot:
                assert "does not hold the volume data as a folder of its own" in outcome.error
            assert list(Path(volume.attrs["Mountpoint"]).iterdir()) == []
            assert not marker.exists()
            assert not (tmp_path / "restore-work").exists()
    finally:
        victim.remove(force=True)


def test_a_database_dump_that_fails_to_load_ends_the_restore(
    tmp_path: Path,
    ssh_servers: list[TestServer],
    volume: Any,
    docker_client: docker.DockerClient,
    proxy_image: str,
) -> None:
    (Path(volume.attrs["Mountpoint"]) / "backup.sql").write_text("INSERT INTO missing_table VALUES (1);\n")
    _run_restic(tmp_path, "pw", "init")
    volumes_root = Path(volume.attrs["Mountpoint"]).parent.parent
    _run_restic(tmp_path, "pw", "backup", "--quiet", "--", f"{volume.name}/_data", cwd=volumes_root)
    snapshot = json.loads(_run_restic(tmp_path, "pw", "snapshots", "--json"))[0]["id"]
    # A stand-in database: it reads the dump on its standard input and fails on the first statement.
    database = docker_client.containers.run(
        proxy_image, ["sleep", "infinity"], name=f"prv-test{secrets.token_hex(4)}-db", detach=True
    )
    load = ["sh", "-c", "if grep -q missing_table; then echo 'ERROR 1146: no table' >&2; exit 1; fi"]
    try:
        restore = _variables(
            tmp_path, volume, "pw", f"/{volume.name}/_data", snapshot=snapshot,
            **_restore(
                tmp_path,
                databases=[{
                    "volume": "data", "in_snapshot": f"/{volume.name}/_data", "dump": "backup.sql",
                    "container": database.name, "ready": ["true"], "load": load,
                    "load_argv": [*LOAD_THROUGH_STDIN, database.name, *load],
                }],
                after_steps=[{"container": database.name, "argv": ["touch", "/tmp/after"]}],
            ),
        )  # fmt: skip
        restore["volumes"][0]["copied"] = False
        sink = CollectingSink()
        outcome = run_playbook(
            _spec(ssh_servers[0], "restore.yml", restore), sink, work_root=tmp_path / "runs"
        )
        assert outcome.status == "failed"
        # The readiness wait passed at once; the load failed (its item, then the task).
        failed = [e for e in sink.events if e.status == "failed"]
        assert {e.task for e in failed} == {
            "Load each dump into its empty database, stopping at the first error"
        }, [(e.task, e.line, e.stdout) for e in failed]
        # The database volume was emptied, never filled with the copied files, and nothing ran after.
        assert list(Path(volume.attrs["Mountpoint"]).iterdir()) == []
        assert database.exec_run(["test", "-e", "/tmp/after"]).exit_code == 1
    finally:
        database.remove(force=True)


def test_a_rest_target_confines_a_server_to_appending_to_its_associations_repository(
    tmp_path: Path, ssh_servers: list[TestServer], volume: Any
) -> None:
    """Debian's rclone serving restic's REST protocol (append-only, private repositories) in front of
    a folder, as a lab runs it: an association's backup and restore go through its own credential on a
    real server, which applies no retention (it could not) and keeps no credential. What that
    credential cannot do, and the control plane's pruning: tests/provisioner/backups/test_rest_targets.py."""
    server = ssh_servers[0]
    with rest_server(tmp_path / "store") as rest, migrated("sqlite", tmp_path) as url:
        settings = Settings(data_dir=tmp_path, database_url=url)
        with transaction(url) as session:
            add_rest_target(session, settings, rest)
            tenant_id = factories.tenant(session).id
            repository = repository_for(session, settings, tenant_id=tenant_id)
            mine = restic_variables(settings, repository, Server(root_dir=str(server.root_dir)))
        secrets_of_it = [tenant_password(mine), mine["env"]["RESTIC_PASSWORD"]]

        folder = Path(volume.attrs["Mountpoint"])
        content = os.urandom(50_000)
        (folder / "upload.bin").write_bytes(content)
        backup = _variables(
            tmp_path, volume, "unused", instance_id="ins_a", tag_options=["--tag", "ins_a"], keep_options=[],
            backup_paths=[f"{volume.name}/_data"],
        ) | {"restic": mine}  # fmt: skip
        sink = CollectingSink()
        outcome = run_playbook(_spec(server, "backup.yml", backup), sink, work_root=tmp_path / "runs")
        assert outcome.status == "successful", outcome.error
        report = next(e.stdout for e in sink.events if e.task == REPORT_TASK and e.status == "ok")
        snapshot = check_report(json.loads(report.split("=> ", 1)[1])["msg"]).snapshot_id
        assert (rest.folder / tenant_id / "snapshots" / snapshot).is_file()
        # The server applied no retention: the listener refuses every deletion, so a forget would have
        # failed the backup.

        (folder / "upload.bin").unlink()
        restore = _variables(
            tmp_path, volume, "unused", f"/{volume.name}/_data", snapshot=snapshot, **_restore(tmp_path)
        ) | {"restic": mine}
        outcome = run_playbook(_spec(server, "restore.yml", restore), sink, work_root=tmp_path / "runs")
        assert outcome.status == "successful", outcome.error
        assert (folder / "upload.bin").read_bytes() == content
        for shown in secrets_of_it:
            assert all(shown not in e.line and shown not in e.stdout for e in sink.events)
        kept = [
            p
            for p in server.root_dir.rglob("*")
            if p.is_file() and secrets_of_it[0].encode() in p.read_bytes()
        ]
        assert kept == [], "no credential stays on the server"
