"""The backup and restore playbooks on a real sshd test server with a real Docker volume and restic.

The repository here is a folder on the server itself (restic's local backend): what is under test is
the playbooks' own steps; the SFTP path to a backup server is covered end to end in
tests/e2e/test_backups_wordpress.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from provisioner.backups.runs import LOAD_THROUGH_STDIN
from provisioner.backups.steps import REPORT_TASK
from provisioner.config import Settings
from provisioner.runner.adapter import run_playbook
from provisioner.runner.spec import HostSpec, RunSpec
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


def _variables(tmp_path: Path, volume: Any, password: str, **more: Any) -> dict[str, Any]:
    restic = {"argv": ["restic", "--repo", str(tmp_path / "repo")], "env": {"RESTIC_PASSWORD": password}}
    return {
        "restic": restic | {"identity": None},
        "volumes": [{"name": "data", "docker": volume.name}],
        "min_free_mb": 1,
        "before_steps": [],
        "after_steps": [],
        **more,
    }


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
        keep_options=["--keep-daily", "7"],
    )  # fmt: skip
    sink = CollectingSink()
    outcome = run_playbook(_spec(server, "backup.yml", backup), sink, work_root=tmp_path / "runs")
    assert outcome.status == "successful", outcome.error
    assert any(e.task == REPORT_TASK and '"snapshot_id"' in e.stdout for e in sink.events)
    assert all(password not in e.line and password not in e.stdout for e in sink.events)
    report = next(e.stdout for e in sink.events if e.task == REPORT_TASK and e.status == "ok")
    snapshot = json.loads(report.split("=> ", 1)[1])["msg"]["summary"]["snapshot_id"]

    (folder / "upload.bin").unlink()
    restore = _restore_variables(tmp_path, volume, password, snapshot=snapshot, folder=folder)
    sink = CollectingSink()
    outcome = run_playbook(_spec(server, "restore.yml", restore), sink, work_root=tmp_path / "runs")
    assert outcome.status == "successful", outcome.error
    assert hashlib.sha256((folder / "upload.bin").read_bytes()).digest() == hashlib.sha256(content).digest()
    assert not (tmp_path / "restore-work").exists()
    assert all(password not in e.line and password not in e.stdout for e in sink.events)


def _restore_variables(
    tmp_path: Path, volume: Any, password: str, *, snapshot: str, folder: Path, **more: Any
) -> dict[str, Any]:
    restore = {
        "snapshot": snapshot, "source_paths": {"data": str(folder)}, "containers": [],
        "work_dir": str(tmp_path / "restore-work"), "copied": ["data"], "databases": [], "start_first": [],
        "start_then": [], "files": [], "instance_dir": str(tmp_path / "instance"), "network": "none",
        "labels": {}, "launcher": None,
    }  # fmt: skip
    return _variables(tmp_path, volume, password, **(restore | more))


def test_a_database_dump_that_fails_to_load_ends_the_restore(
    tmp_path: Path,
    ssh_servers: list[TestServer],
    volume: Any,
    docker_client: docker.DockerClient,
    proxy_image: str,
) -> None:
    server = ssh_servers[0]
    folder = Path(volume.attrs["Mountpoint"])
    (folder / "backup.sql").write_text("INSERT INTO missing_table VALUES (1);\n")
    backup = _variables(tmp_path, volume, "pw", instance_id="ins_test", tag_options=[], keep_options=[])
    outcome = run_playbook(_spec(server, "backup.yml", backup), CollectingSink(), work_root=tmp_path / "runs")
    assert outcome.status == "successful", outcome.error
    snapshot = _snapshots(tmp_path, "pw")[-1]
    # A stand-in database: it reads the dump on its standard input and fails on the first statement.
    database = docker_client.containers.run(
        proxy_image, ["sleep", "infinity"], name=f"prv-test{secrets.token_hex(4)}-db", detach=True
    )
    load = ["sh", "-c", "if grep -q missing_table; then echo 'ERROR 1146: no table' >&2; exit 1; fi"]
    try:
        restore = _restore_variables(
            tmp_path, volume, "pw", snapshot=snapshot, folder=folder, copied=[],
            databases=[{
                "volume": "data", "dump": "backup.sql", "container": database.name, "ready": ["true"],
                "load": load, "load_argv": [*LOAD_THROUGH_STDIN, database.name, *load],
            }],
            after_steps=[{"container": database.name, "argv": ["touch", "/tmp/after"]}],
        )  # fmt: skip
        sink = CollectingSink()
        outcome = run_playbook(_spec(server, "restore.yml", restore), sink, work_root=tmp_path / "runs")
        assert outcome.status == "failed"
        failed = [e.task for e in sink.events if e.status == "failed"]
        assert failed == ["Load each dump into its empty database, stopping at the first error"]
        # Nothing after the failed load ran.
        assert database.exec_run(["test", "-e", "/tmp/after"]).exit_code == 1
    finally:
        database.remove(force=True)


def _snapshots(tmp_path: Path, password: str) -> list[str]:
    listed = subprocess.run(
        ["restic", "--repo", str(tmp_path / "repo"), "snapshots", "--json"],
        env={**os.environ, "RESTIC_PASSWORD": password}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [str(s["id"]) for s in json.loads(listed.stdout)]


def test_a_backup_refuses_to_start_without_free_disk_space(
    tmp_path: Path, ssh_servers: list[TestServer], volume: Any
) -> None:
    variables = _variables(
        tmp_path, volume, "pw", instance_id="ins_test", tag_options=[], keep_options=[], min_free_mb=10**9
    )
    sink = CollectingSink()
    outcome = run_playbook(_spec(ssh_servers[0], "backup.yml", variables), sink, work_root=tmp_path / "runs")
    assert outcome.status == "failed"
    assert outcome.error is not None
    assert "not enough free disk space on the server" in outcome.error
    assert "at least 1000000000 MB needed" in outcome.error
    assert not any(e.task == "Back up the volumes with restic" and e.status != "info" for e in sink.events)
