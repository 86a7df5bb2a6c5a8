"""Whether the control plane reaches a backup target with the credentials it keeps for it.

Every answer is one of a few findings in our own words: what a backup server or S3 service prints is
untrusted and may echo a credential, so none of it is passed on.

- SFTP: the target's own key, its pinned host key, its folder made where missing (so an operator need not
  make it by hand first), then a folder made and removed under it.
- REST: the full-access listener with the admin's credentials (the control plane prunes through it),
  the servers' listener answering at all, and the htpasswd file the control plane keeps being writable.
- S3: a signed listing of the bucket (AWS Signature Version 4).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import httpx

from provisioner.backups.s3 import signed_headers
from provisioner.config import Settings
from provisioner.crypto import decrypt
from provisioner.models import BackupTarget

TIMEOUT_S = 20


class Finding(StrEnum):
    REACHED = "reached"
    UNREACHABLE = "unreachable"  # nothing answers at the address
    HOST_KEY_CHANGED = "host_key_changed"  # an SFTP server answered with another host key than the pinned one
    CREDENTIALS_REFUSED = "credentials_refused"
    FOLDER_MISSING = "folder_missing"  # SFTP path or S3 bucket
    NOT_WRITABLE = "not_writable"
    LISTENER_SILENT = "listener_silent"  # REST: the servers' append-only listener does not answer
    HTPASSWD_NOT_WRITABLE = "htpasswd_not_writable"
    FAILED = "failed"  # an answer none of the above explains


DETAILS = {
    Finding.REACHED: "reached with the credentials the lab keeps for it",
    Finding.UNREACHABLE: "nothing answers at its address from the control plane's machine",
    Finding.HOST_KEY_CHANGED: "the SFTP server answered with another host key than the one confirmed",
    Finding.CREDENTIALS_REFUSED: "it answered but refused the lab's credentials (for SFTP: is the "
    "target's public key in authorized_keys?)",
    Finding.FOLDER_MISSING: "the folder (SFTP) or bucket (S3) does not exist",
    Finding.NOT_WRITABLE: "the lab may not write into the folder",
    Finding.LISTENER_SILENT: "the full-access listener answers, the servers' append-only listener does not",
    Finding.HTPASSWD_NOT_WRITABLE: "the control plane cannot write the servers' listener's htpasswd file",
    Finding.FAILED: "it answered in a way that does not let backups work",
}


@dataclass(frozen=True)
class Reach:
    finding: Finding

    @property
    def reached(self) -> bool:
        return self.finding is Finding.REACHED

    @property
    def detail(self) -> str:
        return DETAILS[self.finding]


def check_target(settings: Settings, target: BackupTarget) -> Reach:
    credentials = json.loads(decrypt(settings, target.encrypted_credentials))
    if target.kind == "sftp":
        return Reach(_sftp(target, credentials["ssh_private_key"], settings.ssh_connect_timeout_seconds))
    if target.kind == "rest":
        return Reach(_rest(target, credentials["admin_user"], credentials["admin_password"]))
    return Reach(_s3(target, credentials["aws_access_key_id"], credentials["aws_secret_access_key"]))


def _sftp(target: BackupTarget, private_key: str, connect_timeout: int) -> Finding:
    probe = f"{target.path.rstrip('/')}/.provisioner-check-{secrets.token_hex(6)}"
    with tempfile.TemporaryDirectory(prefix="prv-reach-") as folder:
        key, known = Path(folder) / "id_ed25519", Path(folder) / "known_hosts"
        key.touch(mode=0o600)
        key.write_text(private_key)
        host = target.address if target.port == 22 else f"[{target.address}]:{target.port}"
        known.write_text(f"{host} {target.host_key}\n")
        argv = [
            "sftp", "-b", "-", "-F", "/dev/null", "-i", str(key), "-P", str(target.port),
            "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={connect_timeout}",
            "-o", f"UserKnownHostsFile={known}", "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes", f"{target.user}@{target.address}",
        ]  # fmt: skip
        batch = sftp_batch(target.path, probe)
        try:
            done = subprocess.run(
                argv, input=batch, capture_output=True, text=True, timeout=TIMEOUT_S + connect_timeout,
                check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return Finding.UNREACHABLE
    return Finding.REACHED if done.returncode == 0 else _sftp_failure(done.stdout, done.stderr)


def sftp_batch(path: str, probe: str) -> str:
    """Make the target's folder where it is missing (each level in turn, as sftp's mkdir makes one), then
    a folder made and removed in it. A line with a leading "-" may fail (a level that exists, or one the
    user may not make); any other line stops the batch when it fails, so the last one that ran says
    where it stopped."""
    parts = [part for part in path.split("/") if part]
    levels = ["/" + "/".join(parts[: n + 1]) for n in range(len(parts))]
    made = "".join(f'-mkdir "{level}"\n' for level in levels)
    return f'{made}cd "{path}"\nmkdir "{probe}"\nrmdir "{probe}"\n'


SSH_SAYS = {
    "Host key verification failed": Finding.HOST_KEY_CHANGED,
    "REMOTE HOST IDENTIFICATION HAS CHANGED": Finding.HOST_KEY_CHANGED,
    "Permission denied (": Finding.CREDENTIALS_REFUSED,
    "Connection refused": Finding.UNREACHABLE,
    "timed out": Finding.UNREACHABLE,
    "No route to host": Finding.UNREACHABLE,
    "not known": Finding.UNREACHABLE,
}


def _sftp_failure(stdout: str, stderr: str) -> Finding:
    for words, finding in SSH_SAYS.items():
        if words in stderr:
            return finding
    ran = [line for line in stdout.splitlines() if line.startswith("sftp> ")]
    if ran and ran[-1].startswith("sftp> cd"):
        return Finding.FOLDER_MISSING
    if ran and ran[-1].startswith("sftp> mkdir"):
        return Finding.NOT_WRITABLE
    return Finding.FAILED


def _http(method: str, url: str, **options: object) -> httpx.Response | None:
    try:
        return httpx.request(method, url, timeout=TIMEOUT_S, **options)  # type: ignore[arg-type]
    except httpx.HTTPError:
        return None


def _rest(target: BackupTarget, admin_user: str, admin_password: str) -> Finding:
    admin = _http("GET", f"{target.rest_admin_url}/", auth=(admin_user, admin_password))
    if admin is None:
        return Finding.UNREACHABLE
    if admin.status_code in (401, 403):
        return Finding.CREDENTIALS_REFUSED
    if admin.status_code >= 500:
        return Finding.FAILED
    if _http("GET", f"{target.rest_url}/") is None:
        return Finding.LISTENER_SILENT
    htpasswd = Path(target.htpasswd_file or "/")
    if not os.access(htpasswd if htpasswd.exists() else htpasswd.parent, os.W_OK):
        return Finding.HTPASSWD_NOT_WRITABLE
    return Finding.REACHED


def _s3(target: BackupTarget, key_id: str, secret: str) -> Finding:
    bucket, _, prefix = target.path.strip("/").partition("/")
    query = {"list-type": "2", "max-keys": "1", "prefix": prefix}
    answer = _http(
        "GET",
        f"{target.s3_endpoint}/{bucket}",
        params=query,
        headers=signed_headers("GET", f"{target.s3_endpoint}/{bucket}", query, key_id, secret),
    )
    if answer is None:
        return Finding.UNREACHABLE
    if answer.status_code == 200:
        return Finding.REACHED
    if answer.status_code == 404:
        return Finding.FOLDER_MISSING
    if answer.status_code in (401, 403):
        return Finding.CREDENTIALS_REFUSED
    return Finding.FAILED
