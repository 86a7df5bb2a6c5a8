"""Deleting a repository on each kind of target.

SFTP: the batch removes restic's layout and the password's recovery copy, each removal allowed to fail
(a resumed offboarding finds part of it gone), and the target's listing decides: anything of the
tenant's still there fails the step, naming it (the real sftp: tests/e2e/test_backups_wordpress.py).

REST and S3 for real: Debian's rclone serving restic's REST protocol as a lab runs it
(tests/support/rest_server.py), moto's server standing in for an S3 service (tests/support/s3_standin.py),
and repositories made and written by Debian's restic on this machine with exactly what a server gets.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from provisioner.backups.repository import repository_for, restic_variables
from provisioner.backups.targets import add_target
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.models import BackupTarget, Server
from provisioner.offboarding import repositories
from provisioner.offboarding.repositories import RepositoryNotDeleted, delete_repository
from tests.support import factories
from tests.support.db import migrated
from tests.support.rest_server import RestServer, add_rest_target, rest_server, tenant_password
from tests.support.rest_server import run_restic as restic
from tests.support.s3_standin import s3_standin

TENANT = "ten_abc"


class Target:
    """Stands in for sftp: keeps the batch, answers with a listing of the target's folder."""

    def __init__(self, listing: str) -> None:
        self.listing = listing
        self.batch = ""

    def __call__(self, settings: Settings, target: BackupTarget, batch: Callable[[Path], str]) -> str:
        self.batch = batch(Path("/nowhere"))
        return self.listing


def _target(kind: str = "sftp") -> BackupTarget:
    return BackupTarget(name="lab", kind=kind, path="/srv/restic/", address="192.0.2.20", user="restic")


def test_the_batch_removes_restics_layout_and_the_copy_then_lists_the_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sftp = Target('sftp> ls -1a "/srv/restic"\n/srv/restic/.\n/srv/restic/..\n/srv/restic/ten_other\n')
    monkeypatch.setattr(repositories, "run_batch", sftp)

    delete_repository(Settings(data_dir=tmp_path), _target(), tenant_id=TENANT)

    lines = sftp.batch.splitlines()
    assert lines[0] == f'-rm "/srv/restic/{TENANT}/data"/*/*'  # a glob in quotes is literal to sftp
    assert f'-rmdir "/srv/restic/{TENANT}/data/00"' in lines
    assert f'-rmdir "/srv/restic/{TENANT}/data/ff"' in lines
    assert f'-rm "/srv/restic/{TENANT}/keys"/*' in lines
    assert f'-rm "/srv/restic/{TENANT}/config"' in lines
    assert f'-rm "/srv/restic/{TENANT}.password.age"' in lines
    assert lines[-1] == 'ls -1a "/srv/restic"'
    assert all(line.startswith("-") for line in lines[:-1])  # each removal may find its part gone


def test_a_folder_left_behind_fails_the_step_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The echo of sftp's own commands names the folder too, quoted: only a listed entry counts.
    listing = f'sftp> -rmdir "/srv/restic/{TENANT}"\n/srv/restic/{TENANT}\n/srv/restic/ten_other\n'
    monkeypatch.setattr(repositories, "run_batch", Target(listing))

    with pytest.raises(RepositoryNotDeleted, match=f"on lab, {TENANT} is still there after deleting"):
        delete_repository(Settings(data_dir=tmp_path), _target(), tenant_id=TENANT)


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    with migrated("sqlite", tmp_path) as url:
        yield Settings(data_dir=tmp_path, database_url=url)


def _two_repositories(settings: Settings, tmp_path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """Two associations' repositories on the default target, each made and given a snapshot by
    restic: their tenant ids and what a server gets for a run of each."""
    with transaction(settings.resolved_database_url) as session:
        tenants = [factories.tenant(session, slug).id for slug in ("verein-a", "verein-b")]
        server = Server(root_dir=str(tmp_path / "server"))
        runs = [
            restic_variables(settings, repository_for(session, settings, tenant_id=t), server)
            for t in tenants
        ]
    for variables, host in zip(runs, ("ins_a", "ins_b"), strict=True):
        restic(variables, "init")
        restic(variables, "backup", "--quiet", "--host", host, "--", "/etc/hostname")
    return tenants, runs


def _delete(settings: Settings, tenant_id: str) -> None:
    with transaction(settings.resolved_database_url) as session:
        target = session.scalars(select(BackupTarget)).one()
    delete_repository(settings, target, tenant_id=tenant_id)


def test_a_repository_on_a_rest_target_is_deleted_with_its_user_and_the_others_stay(
    settings: Settings, tmp_path: Path
) -> None:
    with rest_server(tmp_path / "store") as rest:
        with transaction(settings.resolved_database_url) as session:
            add_rest_target(session, settings, rest)
        (a, b), (mine, theirs) = _two_repositories(settings, tmp_path)
        assert sum(1 for p in (rest.folder / a).rglob("*") if p.is_file()) > 4

        _delete(settings, a)

        # No file and no folder of A's repository is left, nor A's user on the servers' listener.
        assert not (rest.folder / a).exists()
        assert [line.split(":")[0] for line in rest.htpasswd.read_text().splitlines()] == [b]
        answer = httpx.get(f"{rest.url}/{a}/config", auth=(a, tenant_password(mine)))
        assert answer.status_code == 401
        # B's repository opens and holds its snapshot; deleting A's again (a resumed job) finds nothing.
        assert len(json.loads(restic(theirs, "snapshots", "--json").stdout)) == 1
        _delete(settings, a)


def test_a_file_the_rest_server_keeps_fails_the_step_saying_how_much(
    settings: Settings, tmp_path: Path
) -> None:
    with rest_server(tmp_path / "store") as rest:
        with transaction(settings.resolved_database_url) as session:
            add_rest_target(session, settings, rest)
        (a, _), _ = _two_repositories(settings, tmp_path)
        (rest.folder / a / "keys" / "not-restics").write_text("something else")

        with pytest.raises(
            RepositoryNotDeleted, match=r"on lab, 1 file\(s\) of the repository .* still there"
        ):
            _delete(settings, a)
        assert [p.name for p in (rest.folder / a).rglob("*") if p.is_file()] == ["not-restics"]


def test_a_rest_target_refusing_the_admin_fails_the_step_without_its_password(
    settings: Settings, tmp_path: Path
) -> None:
    with rest_server(tmp_path / "store") as rest:
        wrong = RestServer(**{**vars(rest), "admin_password": "not-the-password"})
        with transaction(settings.resolved_database_url) as session:
            add_rest_target(session, settings, wrong)
        with pytest.raises(RepositoryNotDeleted, match=r"refused the lab's admin credentials \(401\)") as exc:
            _delete(settings, "ten_abc")
        assert "not-the-password" not in str(exc.value)


def test_a_repository_on_an_s3_target_is_deleted_and_the_others_stay(
    settings: Settings, tmp_path: Path
) -> None:
    with s3_standin(tmp_path) as s3:
        with transaction(settings.resolved_database_url) as session:
            add_target(
                session, actor=factories.OPERATOR, settings=settings, name="lab-s3", kind="s3",
                path=f"{s3.bucket}/lab", s3_endpoint=s3.url, s3_access_key_id=s3.access_key_id,
                s3_secret_access_key=s3.secret_access_key,
            )  # fmt: skip
        (a, b), (_, theirs) = _two_repositories(settings, tmp_path)
        assert f"lab/{a}/config" in s3.keys(f"lab/{a}/")
        s3_objects = len(s3.keys(f"lab/{a}/"))
        assert s3_objects > 4

        _delete(settings, a)

        assert s3.keys(f"lab/{a}") == []  # also nothing named like it beside the folder
        assert f"lab/{b}/config" in s3.keys("lab/")
        assert len(json.loads(restic(theirs, "snapshots", "--json").stdout)) == 1
        _delete(settings, a)
