"""A backup's volumes (or a space's data folder) restored into a throwaway folder beside the exports,
never from the live files.

restic runs here, on the control plane (as it does to prune REST targets), with the same repository
access a server's restore gets (``restic_variables``): the password and keys only in its environment,
the SFTP identity in a folder of the run's own, removed with the throwaway folder. Where each volume
lies in the snapshot is derived from our own names (``paths_in_snapshot``), and every part is checked
to be a real folder or file inside the restored copy before anything reads it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from provisioner.backups.reported import UntrustedReport, paths_in_snapshot, usable_snapshot_id
from provisioner.backups.repository import restic_variables
from provisioner.catalog.exports import ExportPart, Part
from provisioner.config import Settings
from provisioner.exports.archive import RestoredPart
from provisioner.models import Backup, BackupRepository, Server, SpaceBackup
from provisioner.spaces.data_runs import in_snapshot as space_in_snapshot


class RestoreFailed(Exception):
    """The backup could not be restored for the export; the message is one line, without secrets."""


def restore_for_export(
    settings: Settings, backup: Backup, parts: list[ExportPart], *, into: Path
) -> list[RestoredPart]:
    """Restore the volumes ``parts`` read from ``backup`` into ``into`` (made here, removed by the caller)."""
    volumes = sorted({part.volume for part in parts})
    try:
        snapshot = usable_snapshot_id(backup.snapshot_id)
        in_snapshot = paths_in_snapshot(backup.instance_id, volumes, backup.paths)
    except UntrustedReport as exc:
        raise RestoreFailed(f"the backup {backup.id} cannot be restored: {exc}") from exc
    # Only what the parts read: a database volume's dump, not the database's own files beside it.
    wanted = sorted({in_snapshot[p.volume] + (f"/{p.path}" if p.path else "") for p in parts})
    restored = _restored(settings, backup.repository, snapshot, wanted, into=into)
    return [
        RestoredPart(part=part, source=_inside(restored, in_snapshot[part.volume], part)) for part in parts
    ]


def restore_space_for_export(
    settings: Settings, backup: SpaceBackup, parts: list[Part], *, into: Path
) -> list[RestoredPart]:
    """Restore the space's data folder of ``backup`` (the one path of its snapshot, named by us) into
    ``into``; each of ``parts`` lies inside that folder."""
    try:
        snapshot = usable_snapshot_id(backup.snapshot_id)
    except UntrustedReport as exc:
        raise RestoreFailed(f"the space's backup {backup.id} cannot be restored: {exc}") from exc
    folder = f"/{space_in_snapshot(backup.space_id)}"
    restored = _restored(settings, backup.repository, snapshot, [folder], into=into)
    return [RestoredPart(part=part, source=_inside(restored, folder, part)) for part in parts]


def _restored(
    settings: Settings, repository: BackupRepository, snapshot: str, wanted: list[str], *, into: Path
) -> Path:
    """``wanted`` of ``snapshot`` restored by restic into ``into``/restored; that folder."""
    into.mkdir(mode=0o700, parents=True)
    restored, scratch = into / "restored", into / "scratch"
    scratch.mkdir(mode=0o700)
    # A stand-in server row for where restic runs: its cache and identity folders go into the scratch.
    here = Server(id="control-plane", root_dir=str(scratch), connection="local")
    restic = restic_variables(settings, repository, here)
    identity = restic["identity"]
    if identity is not None:
        folder = Path(identity["dir"])
        folder.mkdir(mode=0o700, parents=True)
        for name, content in (("id_ed25519", identity["key"]), ("known_hosts", identity["known_hosts"])):
            with os.fdopen(os.open(folder / name, os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
                handle.write(content)
    includes = [f"--include={path}" for path in wanted]
    _run(
        settings,
        [*restic["argv"], "restore", "--target", str(restored), *includes, "--", snapshot],
        restic["env"],
        scratch,
    )
    return restored


def _run(settings: Settings, argv: list[str], env: dict[str, str], home: Path) -> None:
    try:
        done = subprocess.run(
            argv,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)} | env,
            capture_output=True,
            text=True,
            timeout=settings.job_timeout_seconds,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RestoreFailed("restoring the backup took too long") from exc
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        for secret in env.values():
            reason = reason.replace(secret, "***")
        raise RestoreFailed(f"restoring the backup failed: {reason[:300]}")


def _inside(restored: Path, volume_path: str, part: Part) -> Path:
    """The part's place in the restored copy, refused when a link on the way leads elsewhere: the
    snapshot was written by a server."""
    relative = volume_path.lstrip("/") + (f"/{part.path}" if part.path else "")
    expected = os.path.join(os.path.realpath(restored), relative)
    found = os.path.realpath(restored / relative)
    if found != expected or not os.path.lexists(found):
        raise RestoreFailed(f"the backup holds no {part.path or 'folder'} for the part {part.name!r}")
    kind_ok = os.path.isdir(found) if part.kind == "files" else os.path.isfile(found)
    if not kind_ok or os.path.islink(found):
        raise RestoreFailed(
            f"the part {part.name!r} is not a {'folder' if part.kind == 'files' else 'file'} in the backup"
        )
    return Path(found)
