"""The lab survives the loss of its control plane, walked as docs/disaster-recovery.md and
docs/backups.md tell an operator: an association's files restored with nothing but restic, the backup
server and the lab's offline recovery identity; the control plane's database dumped, restored with the
secret key into a fresh data folder on PostgreSQL, and from there again into a fresh one on SQLite,
each time with the lab's instances, secrets, schedules and jobs' history back and the next backup of
the instance going into the same repository.

Real parts: the provisioner (``provisioner up``) on SQLite and on PostgreSQL, two sshd test servers (one
runs the instance, the other is the backup server restic reaches over SFTP), Docker Engine, the
homepage image built from Debian packages, restic and age from Debian. The service is the shipped
homepage with its site folder backed up (the test's catalog adds that backup hook): the lightest
service with data of its own.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml
from pyrage import x25519
from sqlalchemy import select

from provisioner.config import Settings
from provisioner.crypto import decrypt
from provisioner.db import forget_engine, session_factory
from provisioner.models import Base
from tests.support.api_client import ApiClient, new_tenant
from tests.support.images import TEMPLATES
from tests.support.lab import (
    add_server,
    add_sftp_target,
    deploy_instance,
    job_succeeded,
    remove_every_instance,
)
from tests.support.proxy import remove_proxies
from tests.support.sshd import TestServer
from tests.support.stack import Stack, embedded_stack, provisioner, start_again

pytestmark = pytest.mark.e2e

DOCS = Path(__file__).parents[2] / "docs"
BACKUPS_PAGE = (DOCS / "backups.md").read_text()
RECOVERY_PAGE = (DOCS / "disaster-recovery.md").read_text()
SITE = "/var/www/site"  # the homepage's volume "site" in its web container
FLYER = "flyer.bin"


def _catalog(root: Path) -> Path:
    """The shipped homepage, its volume ``site`` backed up and restored."""
    folder = root / "homepage"
    shutil.copytree(TEMPLATES / "homepage", folder)
    path = folder / "template.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["hooks"] = {"backup": {"volumes": ["site"]}, "restore": {"volumes": ["site"]}}
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    return root


def _restic_with_the_recovery_key(folder: Path, tenant_id: str, identity: Path, *args: str) -> str:
    """restic as docs/backups.md runs it when the control plane is gone: on the backup server, the
    repository's password read from its copy with the recovery identity, nothing else."""
    assert (
        'export RESTIC_PASSWORD_COMMAND="age -d -i /media/safe/recovery.txt $B/$T.password.age"'
        in BACKUPS_PAGE
    )
    command = f"age -d -i {identity} {folder}/{tenant_id}.password.age"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RESTIC_", "PROVISIONER_"))}
    done = subprocess.run(
        ["restic", "-r", f"{folder}/{tenant_id}", *args],
        env=env | {"RESTIC_PASSWORD_COMMAND": command, "RESTIC_CACHE_DIR": str(identity.parent / "cache")},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def _snapshots(folder: Path, tenant_id: str, identity: Path) -> set[str]:
    listed = json.loads(_restic_with_the_recovery_key(folder, tenant_id, identity, "snapshots", "--json"))
    return {snapshot["id"] for snapshot in listed}


def _put_file(client: docker.DockerClient, instance_id: str, data: bytes) -> None:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo(FLYER)
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    assert client.containers.get(f"prv-{instance_id}-web").put_archive(SITE, archive.getvalue())


def _secrets(settings: Settings) -> dict[str, list[str]]:
    """Digests of every encrypted value in the lab's database, opened with the secret key."""
    found: dict[str, list[str]] = {}
    url = settings.resolved_database_url
    with session_factory(url)() as session:
        for table in Base.metadata.sorted_tables:
            for column in (c for c in table.columns if c.info.get("encrypted")):
                values = session.scalars(select(column).where(column.is_not(None))).all()
                digests = (hashlib.sha256(decrypt(settings, v).encode()).hexdigest() for v in values)
                found[f"{table.name}.{column.name}"] = sorted(digests)
    forget_engine(url)
    return found


def _the_lab(operator: ApiClient, verein: ApiClient, instance_id: str) -> dict[str, Any]:
    """What the lab must still know after a disaster, as its API shows it."""
    instance = verein.call("GET", f"/api/v1/instances/{instance_id}", expect=200)
    return {
        "instance": {k: instance[k] for k in ("id", "state", "server", "hostname", "version", "parameters")},
        "schedules": operator.call("GET", "/api/v1/schedules", expect=200)["items"],
        "jobs": operator.call("GET", f"/api/v1/jobs?instance={instance_id}", expect=200)["items"],
        "backups": verein.call("GET", f"/api/v1/instances/{instance_id}/backups", expect=200)["items"],
    }


def _back_up(verein: ApiClient, instance_id: str) -> dict[str, Any]:
    job = job_succeeded(verein, verein.call("POST", f"/api/v1/instances/{instance_id}/backups", expect=202))
    newest: dict[str, Any] = verein.call("GET", f"/api/v1/instances/{instance_id}/backups", expect=200)[
        "items"
    ][0]
    assert (newest["status"], newest["job"]) == ("succeeded", job["id"])
    return newest


def _move_by_dump(stack: Stack, offsite: Path, *, data_dir: Path, database_url: str) -> Settings:
    """docs/disaster-recovery.md: a dump, the machine lost, the dump restored with the key into a fresh
    data folder (and database), the lab started on it; returns the new lab's settings."""
    for command in ("provisioner db dump", "provisioner db restore"):
        assert command in RECOVERY_PAGE
    dump = offsite / f"lab-{data_dir.name}.dump"
    provisioner("db", "dump", str(dump), env=stack.env)
    stack.stop_all()
    stack.env |= {"PROVISIONER_DATA_DIR": str(data_dir), "PROVISIONER_DATABASE_URL": database_url}
    provisioner("db", "restore", str(dump), env=stack.env)
    start_again(stack)  # the same address: every client and token of the test goes on working
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        secret_key_file=Path(stack.env["PROVISIONER_SECRET_KEY_FILE"]),
    )


# One deploy and three backups, two restarts of the control plane on a fresh database.
@pytest.mark.timeout(1200)
def test_backups_and_the_lab_outlive_the_control_plane(
    tmp_path: Path,
    pg_url: str,
    ssh_servers: list[TestServer],
    homepage_images: dict[str, str],
    registry: str,
    docker_client: docker.DockerClient,
) -> None:
    server, backup_server = ssh_servers
    repositories = backup_server.root_dir / "backups"
    # Kept apart from the data folders, as the pages say: the secret key, the dumps, and offline the
    # recovery identity (the control plane gets only its public half).
    keys, offsite, offline = tmp_path / "etc", tmp_path / "offsite", tmp_path / "offline"
    for folder in (keys, offsite, offline):
        folder.mkdir(mode=0o700)
    key_file = keys / "secret.key"
    key_file.write_text("the-lab-keeps-this-key-apart-from-its-dumps\n")
    key_file.chmod(0o600)
    recovery = x25519.Identity.generate()
    identity = offline / "recovery.txt"
    identity.write_text(f"{recovery}\n")
    first = Settings(data_dir=tmp_path / "data", secret_key_file=key_file)

    with ExitStack() as cleanup:
        stack = cleanup.enter_context(
            embedded_stack(
                first.data_dir,
                ssh_key=server.client_key,
                registry=registry,
                templates=_catalog(tmp_path / "catalog"),
                env={
                    "PROVISIONER_SECRET_KEY_FILE": str(key_file),
                    "PROVISIONER_BACKUP_RECOVERY_RECIPIENTS": str(recovery.to_public()),
                },
            )
        )
        operator = cleanup.enter_context(ApiClient(stack.base_url, stack.operator_token))
        server_id = add_server(operator, server)
        cleanup.callback(remove_proxies, docker_client, [server_id])
        cleanup.callback(remove_every_instance, docker_client, operator)
        add_sftp_target(operator, backup_server, repositories)
        tenant_id, verein = new_tenant(operator, stack.base_url, "verein-dr")
        verein = cleanup.enter_context(verein)
        site = deploy_instance(
            operator,
            verein,
            template="homepage",
            name="site",
            server_id=server_id,
            parameters={"title": "Verein"},
        )
        operator.call(
            "POST",
            "/api/v1/schedules",
            expect=201,
            json={"kind": "backup", "instance": site["id"], "cron": "0 4 1 1 *"},
        )
        flyer = os.urandom(200_000)
        _put_file(docker_client, site["id"], flyer)
        backup = _back_up(verein, site["id"])

        # Database and key lost: the association's files come back with restic, the backup server and
        # the recovery identity alone (docs/backups.md).
        assert _snapshots(repositories, tenant_id, identity) == {backup["snapshot_id"]}
        by_hand = offline / "restore"
        _restic_with_the_recovery_key(
            repositories,
            tenant_id,
            identity,
            "restore",
            "--target",
            str(by_hand),
            "--",
            backup["snapshot_id"],
        )
        assert (by_hand / f"prv-{site['id']}-site" / "_data" / FLYER).read_bytes() == flyer

        # The control plane's own disaster, once onto PostgreSQL and from there once onto SQLite.
        before, secrets = _the_lab(operator, verein, site["id"]), _secrets(first)
        assert secrets["backup_repositories.encrypted_password"]
        for data_dir, database_url in ((tmp_path / "on-postgresql", pg_url), (tmp_path / "on-sqlite", "")):
            restored = _move_by_dump(stack, offsite, data_dir=data_dir, database_url=database_url)
            assert restored.resolved_database_url.startswith("postgresql" if database_url else "sqlite")
            assert _the_lab(operator, verein, site["id"]) == before
            assert _secrets(restored) == secrets
            # The next backup goes into the same repository, with the password from the dump.
            newest = _back_up(verein, site["id"])
            assert newest["snapshot_id"] not in {b["snapshot_id"] for b in before["backups"]}
            assert newest["snapshot_id"] in _snapshots(repositories, tenant_id, identity)
            before = _the_lab(operator, verein, site["id"])
