"""One restic repository per tenant on a target, and what restic on a server needs to open it.

The repository's password is generated once, kept encrypted, and reaches restic only through the
``RESTIC_PASSWORD`` environment variable of the task that runs it: never a command line, never an event.
"""

from __future__ import annotations

import json
import secrets
import shlex
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.backups.targets import default_target
from provisioner.config import Settings
from provisioner.crypto import decrypt, encrypt
from provisioner.models import BackupRepository, BackupTarget, Server


def repository_for(session: Session, settings: Settings, *, tenant_id: str) -> BackupRepository:
    """The tenant's repository on the default target, made (with its password) on first use."""
    target = default_target(session)
    found = session.scalar(
        select(BackupRepository).where(
            BackupRepository.tenant_id == tenant_id, BackupRepository.target_id == target.id
        )
    )
    if found is not None:
        return found
    repository = BackupRepository(
        tenant_id=tenant_id,
        target_id=target.id,
        encrypted_password=encrypt(settings, secrets.token_urlsafe(32)),
    )
    repository.target = target
    session.add(repository)
    session.flush()
    return repository


def location(repository: BackupRepository) -> str:
    """restic's repository string; a folder (or prefix) per tenant, named by its id."""
    target = repository.target
    if target.kind == "s3":
        return f"s3:{target.s3_endpoint}/{target.path.strip('/')}/{repository.tenant_id}"
    return f"sftp:{target.user}@{target.address}:{target.path.rstrip('/')}/{repository.tenant_id}"


def identity_dir(server: Server) -> str:
    """A folder of the run's own for the identity: removed when the run ends, so two runs on one server
    (instances of several tenants backed up at once) never remove each other's key."""
    return f"{server.root_dir}/backup/run-{secrets.token_hex(8)}"


def _sftp_command(folder: str, target: BackupTarget) -> str:
    argv = [
        "ssh", "-F", "/dev/null", "-i", f"{folder}/id_ed25519", "-p", str(target.port),
        "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
        "-o", f"UserKnownHostsFile={folder}/known_hosts", "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "StrictHostKeyChecking=yes", f"{target.user}@{target.address}", "-s", "sftp",
    ]  # fmt: skip
    return shlex.join(argv)


def restic_variables(settings: Settings, repository: BackupRepository, server: Server) -> dict[str, Any]:
    """Everything a playbook needs to run restic on ``server`` against the tenant's repository."""
    target = repository.target
    credentials = json.loads(decrypt(settings, target.encrypted_credentials))
    env = {
        "RESTIC_PASSWORD": decrypt(settings, repository.encrypted_password),
        "RESTIC_CACHE_DIR": f"{server.root_dir}/backup/cache",
    }
    base = ["restic", "--repo", location(repository)]
    identity = None
    if target.kind == "s3":
        env["AWS_ACCESS_KEY_ID"] = credentials["aws_access_key_id"]
        env["AWS_SECRET_ACCESS_KEY"] = credentials["aws_secret_access_key"]
    else:
        folder = identity_dir(server)
        base += ["--option", f"sftp.command={_sftp_command(folder, target)}"]
        host = target.address if target.port == 22 else f"[{target.address}]:{target.port}"
        identity = {
            "dir": folder,
            # Where earlier versions kept the identity for good; removed with the run's own.
            "kept_before": f"{server.root_dir}/backup/{target.id}",
            "key": credentials["ssh_private_key"],
            "known_hosts": f"{host} {target.host_key}\n",
        }
    return {"argv": base, "env": env, "identity": identity}
