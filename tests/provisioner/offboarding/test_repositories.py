"""Deleting a repository on an SFTP target: the batch removes restic's layout and the password's
recovery copy, each removal allowed to fail (a resumed offboarding finds part of it gone), and the
target's listing decides: anything of the tenant's still there fails the step, naming it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from provisioner.config import Settings
from provisioner.models import BackupTarget
from provisioner.offboarding import repositories
from provisioner.offboarding.repositories import RepositoryNotDeleted, delete_repository

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


def test_rest_and_s3_targets_are_left_to_the_lab_saying_so(tmp_path: Path) -> None:
    with pytest.raises(
        RepositoryNotDeleted, match=r"the repository on lab \(s3\) must be deleted by the lab"
    ):
        delete_repository(Settings(data_dir=tmp_path), _target("s3"), tenant_id=TENANT)
