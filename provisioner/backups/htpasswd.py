"""The htpasswd file of a REST backup target's append-only listener: one user per tenant.

The REST server (``rclone serve restic --htpasswd``) runs beside the control plane and reads the file
again whenever it changes, so a tenant's user counts from its first backup on without a restart.

Entries are ``{SHA}`` digests: every password here is 32 random bytes chosen by the control plane,
which no one can guess from an unsalted digest, so a slow hash would add nothing but time per request.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import re
from pathlib import Path

_USER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def entry(user: str, password: str) -> str:
    digest = base64.b64encode(hashlib.sha1(password.encode(), usedforsecurity=False).digest()).decode()
    return f"{user}:{{SHA}}{digest}"


def ensure_user(path: Path, *, user: str, password: str) -> None:
    """Add ``user`` with ``password``, or set its password; other users' lines stay as they are.

    Writers on one machine take turns (a lock file beside it); readers see the old or the new file,
    never half of one (written aside, then renamed over it).
    """
    if not _USER.match(user):
        raise ValueError(f"not a user name for htpasswd: {user!r}")
    _rewrite(path, user=user, wanted=entry(user, password))


def remove_user(path: Path, *, user: str) -> None:
    """Drop ``user``'s line (an offboarded association's): the REST server refuses it from then on."""
    if not _USER.match(user):
        raise ValueError(f"not a user name for htpasswd: {user!r}")
    if path.exists():
        _rewrite(path, user=user, wanted=None)


def _rewrite(path: Path, *, user: str, wanted: str | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lines = path.read_text().splitlines() if path.exists() else []
        kept = [line for line in lines if line and not line.startswith(f"{user}:")]
        if (wanted is not None and wanted in lines) or (wanted is None and kept == lines):
            return
        aside = path.with_name(f".{path.name}.{os.getpid()}")
        # Readable by the REST server's group, never by everyone: a digest is not a secret, but no
        # need to show who has an account.
        descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        with os.fdopen(descriptor, "w") as out:
            out.write("".join(f"{line}\n" for line in [*kept, *([wanted] if wanted else [])]))
        os.replace(aside, path)
