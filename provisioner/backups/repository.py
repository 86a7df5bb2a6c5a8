"""One restic repository per tenant on a target, and what restic on a server needs to open it.

The repository's password is generated once, kept encrypted, and reaches restic only through the
``RESTIC_PASSWORD`` environment variable of the task that runs it: never a command line, never an event.

On a REST target the tenant also has a user of its own on the append-only listener (named by the
tenant id, which is also its repository's folder: the same layout as on the other kinds). restic 0.14
takes that user's password only inside the repository URL, so the URL travels in ``RESTIC_REPOSITORY``
(the environment) too.
"""

from __future__ import annotations

import json
import secrets
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.backups.htpasswd import ensure_user
from provisioner.backups.targets import default_target
from provisioner.config import Settings
from provisioner.crypto import decrypt, encrypt
from provisioner.deployments.backup_leftovers import cache_dir
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
        encrypted_rest_password=(
            encrypt(settings, secrets.token_urlsafe(32)) if target.kind == "rest" else None
        ),
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
    if target.kind == "rest":
        return f"rest:{target.rest_url}/{repository.tenant_id}/"
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


def with_user(base_url: str, folder: str, user: str, password: str) -> str:
    """restic's repository string for ``folder`` on a REST listener, logged in as ``user``."""
    parts = urlsplit(base_url)
    return f"rest:{parts.scheme}://{user}:{password}@{parts.netloc}/{folder}/"


def rest_access(settings: Settings, repository: BackupRepository) -> str:
    """The tenant's own repository URL on the append-only listener, its user made sure of first.

    Made sure of at every run, not only when the repository is made: the htpasswd file may have been
    set up again (a new REST server) since.
    """
    target = repository.target
    if target.rest_url is None or target.htpasswd_file is None or repository.encrypted_rest_password is None:
        raise ValueError(f"the repository of {repository.tenant_id} is not on a REST target")
    password = decrypt(settings, repository.encrypted_rest_password)
    ensure_user(Path(target.htpasswd_file), user=repository.tenant_id, password=password)
    return with_user(target.rest_url, repository.tenant_id, repository.tenant_id, password)


def restic_variables(settings: Settings, repository: BackupRepository, server: Server) -> dict[str, Any]:
    """Everything a playbook needs to run restic on ``server`` against the tenant's repository."""
    target = repository.target
    credentials = json.loads(decrypt(settings, target.encrypted_credentials))
    env = {
        "RESTIC_PASSWORD": decrypt(settings, repository.encrypted_password),
        # The association's own cache on the server, deleted with its last instance or space there.
        "RESTIC_CACHE_DIR": cache_dir(server, repository.tenant_id),
    }
    base = ["restic", "--repo", location(repository)]
    identity = None
    if target.kind == "rest":
        # The tenant's credential only, and only in the environment; nothing to place or remove.
        env["RESTIC_REPOSITORY"] = rest_access(settings, repository)
        base = ["restic"]
    elif target.kind == "s3":
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
