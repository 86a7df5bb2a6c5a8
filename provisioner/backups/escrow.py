"""A copy of each repository's password beside it on the backup target, encrypted to the lab's
offline recovery key, so the associations' backups open without the control plane.

The copy is ``<target path>/<tenant id>.password.age``, beside the repository ``<target path>/<tenant
id>/``: an age file (encrypted with pyrage, read with Debian's ``age``) whose plain text is the
password alone, ready for restic's ``--password-command``. The control plane writes it, with the
target's own credential, when a repository is first used and, for repositories made before a
recipient was set (or when the recipients change), at their next backup. The instance servers never
see it or the means to write it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyrage
from pyrage import x25519

from provisioner.backups.sftp import SftpFailed, quoted, run_batch
from provisioner.config import Settings
from provisioner.crypto import decrypt
from provisioner.db import transaction
from provisioner.models import BackupRepository, BackupTarget

SUFFIX = ".password.age"
NO_RECIPIENT_WARNING = (
    "no recovery key is set (PROVISIONER_BACKUP_RECOVERY_RECIPIENTS): the associations' backups open "
    "only with passwords kept in this control plane's database. If the database or its secret key is "
    "lost, every backup is lost with it. See docs/backups.md"
)


class EscrowFailed(Exception):
    """The copy could not be written; the message says why, without secrets."""


def recipients_digest(settings: Settings) -> str | None:
    """Names the set of recipients a copy was made for; None when no recipient is set."""
    recipients = sorted(settings.recovery_recipients)
    if not recipients:
        return None
    return hashlib.sha256("\n".join(recipients).encode()).hexdigest()


def needs_copy(settings: Settings, repository: BackupRepository) -> bool:
    digest = recipients_digest(settings)
    return digest is not None and repository.escrowed_for != digest and can_hold_copy(repository.target)


def can_hold_copy(target: BackupTarget) -> bool:
    # S3 would need an S3 client in the control plane; REST targets are written beside their folder
    # by their own kind's code. Only SFTP is written here so far.
    return target.kind == "sftp"


def copy_path(repository: BackupRepository) -> str:
    return f"{repository.target.path.rstrip('/')}/{repository.tenant_id}{SUFFIX}"


def seal(settings: Settings, password: str) -> bytes:
    recipients = [x25519.Recipient.from_str(r) for r in settings.recovery_recipients]
    sealed: bytes = pyrage.encrypt(password.encode(), recipients)
    return sealed


def write_copy(settings: Settings, repository: BackupRepository) -> None:
    """Write (or replace, atomically) the repository's password copy on its SFTP target."""
    target = repository.target
    sealed = seal(settings, decrypt(settings, repository.encrypted_password))
    final = copy_path(repository)

    def batch(here: Path) -> str:
        (here / "copy").write_bytes(sealed)
        # Written under a temporary name, then renamed over the old copy (OpenSSH's posix-rename):
        # a reader never sees half a file. "-" lets a step fail that may: a folder that exists already
        # (the target's folder and those above it are made first, as restic does at its first backup).
        return (
            "".join(f"-mkdir {quoted(step)}\n" for step in _folders(target.path))
            + f"put {quoted(str(here / 'copy'))} {quoted(final + '.tmp')}\n"
            f"rename {quoted(final + '.tmp')} {quoted(final)}\n"
        )

    try:
        run_batch(settings, target, batch)
    except SftpFailed as exc:
        if exc.timed_out:
            raise EscrowFailed(str(exc)) from exc
        raise EscrowFailed(
            f"the password's recovery copy could not be written to {target.name}: {exc}"
        ) from exc


def _folders(path: str) -> list[str]:
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[: n + 1]) for n in range(len(parts))]


def ensure_copy(settings: Settings, *, repository_id: int) -> bool:
    """Write the copy when the repository has none for the current recipients; True when written.

    The network step runs between two short transactions: no database lock is held while it waits.
    """
    url = settings.resolved_database_url
    with transaction(url) as session:
        repository = session.get_one(BackupRepository, repository_id)
        if not needs_copy(settings, repository):
            return False
    write_copy(settings, repository)
    with transaction(url) as session:
        session.get_one(BackupRepository, repository_id).escrowed_for = recipients_digest(settings)
    return True
