"""Deleting an association's repository on a REST target, through its full-access listener.

restic's REST protocol (restic's docs, "REST Backend") lists the files of one kind with
``GET <repository>/<kind>/`` (version 2: names and sizes) and deletes one with ``DELETE
<repository>/<kind>/<name>``; rclone's ``serve restic`` (cmd/serve/restic/restic.go) deletes any
object that way, ``config`` included, and maps ``data/<name>`` to ``data/<first two>/<name>`` itself.
The servers' listener is append-only and refuses deletions, so the admin's listener does it, as for
pruning. First the association's user leaves the servers' htpasswd file (nothing is written into the
repository any more); then every file restic makes is deleted; then each kind is listed again and
``config`` asked for: anything left fails the step, naming how much.

What a listing names is untrusted: only a restic file name (64 hex digits) is put into a request.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from provisioner.backups.htpasswd import remove_user
from provisioner.config import Settings
from provisioner.crypto import decrypt
from provisioner.models import BackupTarget
from provisioner.offboarding.errors import RepositoryNotDeleted

KINDS = ("locks", "snapshots", "index", "keys", "data")
V2 = {"Accept": "application/vnd.x.restic.rest.v2"}
RESTIC_NAME = re.compile(r"^[0-9a-f]{64}$")
TIMEOUT_S = 60


def delete_on_rest(settings: Settings, target: BackupTarget, *, tenant_id: str) -> None:
    admin = json.loads(decrypt(settings, target.encrypted_credentials))
    if target.htpasswd_file:
        try:
            remove_user(Path(target.htpasswd_file), user=tenant_id)
        except OSError as exc:
            raise RepositoryNotDeleted(
                f"the htpasswd file of {target.name} could not be written: {exc.strerror}"
            ) from exc
    base = f"{target.rest_admin_url}/{tenant_id}"
    auth = (admin["admin_user"], admin["admin_password"])
    try:
        with httpx.Client(auth=auth, timeout=TIMEOUT_S) as client:
            strange = 0
            for kind in KINDS:
                names = _listed(client, target, f"{base}/{kind}/")
                strange += sum(1 for name in names if not RESTIC_NAME.match(name))
                for name in filter(RESTIC_NAME.match, names):
                    _answered(target, client.delete(f"{base}/{kind}/{name}"), gone_too=True)
            _answered(target, client.delete(f"{base}/config"), gone_too=True)
            left = sum(len(_listed(client, target, f"{base}/{kind}/")) for kind in KINDS)
            left += _answered(target, client.head(f"{base}/config"), gone_too=True) == 200
    except httpx.HTTPError as exc:
        raise RepositoryNotDeleted(
            f"the REST target {target.name} did not answer: {type(exc).__name__}"
        ) from exc
    if left:
        what = f"{strange} of them not restic's" if strange else "the server kept them"
        raise RepositoryNotDeleted(
            f"on {target.name}, {left} file(s) of the repository {tenant_id} are still there ({what}); "
            "look at it, delete them, then resume the offboarding"
        )
    _remove_empty_folders(Path(target.path) / tenant_id)


def _answered(target: BackupTarget, answer: httpx.Response, *, gone_too: bool = False) -> int:
    """The status, if it is one the step goes on after; otherwise the step fails, in our own words
    (what the server says is not passed on)."""
    code = answer.status_code
    if code < 300 or (gone_too and code == 404):
        return code
    if code in (401, 403):
        raise RepositoryNotDeleted(
            f"the REST target {target.name} refused the lab's admin credentials ({code})"
        )
    raise RepositoryNotDeleted(f"the REST target {target.name} answered {code} while deleting")


def _listed(client: httpx.Client, target: BackupTarget, url: str) -> list[str]:
    answer = client.get(url, headers=V2)
    if _answered(target, answer, gone_too=True) == 404:
        return []
    try:
        items = answer.json()
        return [str(item["name"]) for item in items]
    except (ValueError, TypeError, KeyError) as exc:
        raise RepositoryNotDeleted(
            f"the REST target {target.name} answered a listing restic would not"
        ) from exc


def _remove_empty_folders(folder: Path) -> None:
    """Where the served folder is on this host's file system (as docs/backups.md deploys it), the
    empty folders a local storage keeps after its files are gone; never a file, and nothing when the
    storage is elsewhere (an rclone remote) or the folders are not ours to remove."""
    if not folder.is_dir() or folder.is_symlink():
        return
    for inner in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if inner.is_dir() and not inner.is_symlink():
            _rmdir(inner)
    _rmdir(folder)


def _rmdir(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        return  # not empty, or not ours: the protocol already showed no file of the repository is left
