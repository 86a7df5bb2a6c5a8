"""Deleting an association's restic repository, and its password's recovery copy, on a backup target:
over SFTP here, on REST and S3 targets through their own protocols (``rest_repository``,
``s3_repository``; neither kind holds a recovery copy, ``provisioner.backups.escrow``).

On an SFTP target the repository is the folder ``<path>/<tenant id>/`` with restic's layout (``config``,
``keys/``, ``index/``, ``snapshots/``, ``locks/``, ``data/00`` … ``data/ff``), and the copy is
``<path>/<tenant id>.password.age`` beside it (``provisioner.backups.escrow``). sftp has no recursive
remove, so the batch removes restic's files and folders by that layout; then the target's folder is
listed, and anything of the tenant's still there fails the step (a file restic does not make, say),
which leaves the offboarding stopped, to be resumed once it is looked at. Every removal may fail (a
second try after a stop finds part of it gone), the listing may not.
"""

from __future__ import annotations

from pathlib import Path

from provisioner.backups.escrow import SUFFIX
from provisioner.backups.sftp import SftpFailed, quoted, run_batch
from provisioner.config import Settings
from provisioner.models import BackupTarget
from provisioner.offboarding.errors import RepositoryNotDeleted

RESTIC_FOLDERS = ("keys", "index", "snapshots", "locks")
DATA_FOLDERS = [f"data/{n:02x}" for n in range(256)]


__all__ = ["RepositoryNotDeleted", "delete_repository"]


def delete_repository(settings: Settings, target: BackupTarget, *, tenant_id: str) -> None:
    # Loaded when used: both speak HTTP through httpx, which an idle worker does not load.
    if target.kind == "rest":
        from provisioner.offboarding.rest_repository import delete_on_rest  # noqa: PLC0415

        delete_on_rest(settings, target, tenant_id=tenant_id)
    elif target.kind == "s3":
        from provisioner.offboarding.s3_repository import delete_on_s3  # noqa: PLC0415

        delete_on_s3(settings, target, tenant_id=tenant_id)
    else:
        _delete_on_sftp(settings, target, tenant_id=tenant_id)


def _delete_on_sftp(settings: Settings, target: BackupTarget, *, tenant_id: str) -> None:
    base = target.path.rstrip("/")
    folder = f"{base}/{tenant_id}"
    copy = f"{base}/{tenant_id}{SUFFIX}"

    def removal(_: Path) -> str:
        # Inside quotes sftp takes * literally, so each glob stands outside its folder's quotes.
        lines = [f"-rm {quoted(folder + '/data')}/*/*"]
        lines += [f"-rmdir {quoted(folder + '/' + d)}" for d in DATA_FOLDERS]
        lines += [f"-rm {quoted(folder + '/' + d)}/*" for d in RESTIC_FOLDERS]
        lines += [f"-rmdir {quoted(folder + '/' + d)}" for d in (*RESTIC_FOLDERS, "data")]
        lines += [f"-rm {quoted(folder + '/config')}", f"-rmdir {quoted(folder)}"]
        lines += [f"-rm {quoted(copy)}", f"-rm {quoted(copy + '.tmp')}", f"ls -1a {quoted(base)}"]
        return "\n".join(lines) + "\n"

    try:
        listed = run_batch(settings, target, removal)
    except SftpFailed as exc:
        raise RepositoryNotDeleted(f"the repository on {target.name} could not be deleted: {exc}") from exc
    # What the target prints is only compared with our own names, never used.
    left = sorted(
        name
        for name in (line.strip().rsplit("/", 1)[-1] for line in listed.splitlines())
        if name in (tenant_id, f"{tenant_id}{SUFFIX}", f"{tenant_id}{SUFFIX}.tmp")
    )
    if left:
        raise RepositoryNotDeleted(
            f"on {target.name}, {', '.join(left)} is still there after deleting restic's files: "
            "something else is in it; look at it, delete it, then resume the offboarding"
        )
