"""Backup targets: where the tenants' restic repositories live. Operators add them; one is the default.

An SFTP target gets an SSH identity of its own, generated here: its public half goes into the backup
server's ``authorized_keys``; the private half is stored encrypted and placed on the instance servers
when they back up, together with the backup server's host key, which is pinned (never trusted blindly).

A REST target is restic's REST protocol served append-only with a private repository per user: each
tenant gets its own user there (``repository.py``), so a server holds a credential for its tenant's
repository alone and cannot delete history; pruning goes through a second, full-access listener that
only the control plane reaches (``prune.py``). SFTP and S3 targets cannot do that: one credential
reaches every tenant's repository with the right to delete (``isolation`` says so in the target's view).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Literal
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor
from provisioner.config import Settings
from provisioner.crypto import encrypt
from provisioner.errors import Conflict, InvalidInput, NotFound
from provisioner.models import BackupRepository, BackupTarget
from provisioner.servers.hostkeys import parse_host_key


def _keypair() -> tuple[str, str]:
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return private, public.decode() + " provisioner-backups"


def _field_error(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": f"body.{field}", "message": message}])


ISOLATION = {
    "rest": "one append-only credential per association: a server reaches only its association's "
    "repository and cannot delete history; the control plane prunes",
    "sftp": "one credential for every association: a server that runs a backup can list and "
    "delete every association's backups (use a rest target to confine each association)",
    "s3": "one key pair for every association: a server that runs a backup can list and delete "
    "every association's backups (use a rest target to confine each association)",
}


def _base_url(field: str, url: str, what: str, rest: str) -> str:
    """Scheme, host and port, nothing else: a path or credentials in it would end up in restic's
    repository string, which restic prints."""
    parts = urlsplit(url.rstrip("/"))
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise _field_error(field, f"the {what}'s http:// or https:// address, without credentials")
    if parts.path or parts.query or parts.fragment:
        raise _field_error(field, f"only scheme, host and port: {rest}")
    return f"{parts.scheme}://{parts.netloc}"


def _s3_endpoint(endpoint: str, path: str) -> str:
    """The endpoint as restic's ``s3:<endpoint>/<bucket>/...`` needs it; a target without a bucket
    could never hold a repository."""
    _base_url("s3_endpoint", endpoint, "S3 service", "the bucket goes into path")
    if not path.strip("/"):
        raise _field_error("path", "the bucket, optionally followed by a prefix: bucket/prefix")
    return _base_url("s3_endpoint", endpoint, "S3 service", "the bucket goes into path")


def _rest(
    target: BackupTarget,
    settings: Settings,
    *,
    rest_url: str | None,
    rest_admin_url: str | None,
    htpasswd_file: str | None,
    admin_user: str | None,
    admin_password: str | None,
) -> None:
    if not rest_url:
        raise _field_error("rest_url", "the append-only listener the instance servers reach")
    if not rest_admin_url:
        raise _field_error("rest_admin_url", "the full-access listener only the control plane reaches")
    if not (htpasswd_file and htpasswd_file.startswith("/")):
        raise _field_error("htpasswd_file", "the absolute path of the append-only listener's htpasswd file")
    if not (admin_user and admin_password):
        raise _field_error("rest_admin_user", "the full-access listener's user and password")
    target.rest_url = _base_url("rest_url", rest_url, "REST server", "each association's folder is added")
    target.rest_admin_url = _base_url("rest_admin_url", rest_admin_url, "REST server", "as rest_url")
    if target.rest_url == target.rest_admin_url:
        raise _field_error("rest_admin_url", "a second listener: the servers' one is append-only")
    target.htpasswd_file = htpasswd_file
    target.encrypted_credentials = encrypt(
        settings, json.dumps({"admin_user": admin_user, "admin_password": admin_password})
    )


def add_target(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    name: str,
    kind: Literal["sftp", "s3", "rest"],
    path: str,
    address: str | None = None,
    port: int = 22,
    user: str | None = None,
    host_key: str | None = None,
    s3_endpoint: str | None = None,
    s3_access_key_id: str | None = None,
    s3_secret_access_key: str | None = None,
    rest_url: str | None = None,
    rest_admin_url: str | None = None,
    htpasswd_file: str | None = None,
    rest_admin_user: str | None = None,
    rest_admin_password: str | None = None,
    default: bool = False,
) -> BackupTarget:
    actor.require_operator()
    if session.scalar(select(BackupTarget.id).where(BackupTarget.name == name)) is not None:
        raise Conflict(f"a backup target called {name!r} exists already")
    target = BackupTarget(name=name, kind=kind, path=path.rstrip("/") or "/", port=port)
    if kind == "sftp":
        if not address:
            raise _field_error("address", "an SFTP target needs the backup server's address")
        if not user:
            raise _field_error("user", "an SFTP target needs the user to log in as")
        if not path.startswith("/"):
            raise _field_error("path", "an absolute folder on the backup server")
        if not host_key:
            raise _field_error("host_key", "the backup server's SSH host key, so it is pinned")
        private, target.public_key = _keypair()
        target.address, target.user, target.host_key = address, user, parse_host_key(host_key)
        target.encrypted_credentials = encrypt(settings, json.dumps({"ssh_private_key": private}))
    elif kind == "rest":
        _rest(
            target,
            settings,
            rest_url=rest_url,
            rest_admin_url=rest_admin_url,
            htpasswd_file=htpasswd_file,
            admin_user=rest_admin_user,
            admin_password=rest_admin_password,
        )
    else:
        if not (s3_endpoint and s3_access_key_id and s3_secret_access_key):
            raise _field_error("s3_endpoint", "an S3 target needs the endpoint and both access keys")
        target.s3_endpoint = _s3_endpoint(s3_endpoint, path)
        target.encrypted_credentials = encrypt(
            settings,
            json.dumps(
                {"aws_access_key_id": s3_access_key_id, "aws_secret_access_key": s3_secret_access_key}
            ),
        )
    first = session.scalar(select(BackupTarget.id).limit(1)) is None
    if default or first:
        session.execute(update(BackupTarget).values(is_default=False))
        target.is_default = True
    session.add(target)
    session.flush()
    return target


def list_targets(session: Session, *, actor: Actor) -> Sequence[BackupTarget]:
    actor.require_operator()
    return session.scalars(select(BackupTarget).order_by(BackupTarget.created_at)).all()


def get_target(session: Session, *, actor: Actor, target_id: str) -> BackupTarget:
    actor.require_operator()
    target = session.get(BackupTarget, target_id)
    if target is None:
        raise NotFound("backup target not found")
    return target


def default_target(session: Session) -> BackupTarget:
    target = session.scalar(select(BackupTarget).where(BackupTarget.is_default.is_(True)))
    if target is None:
        raise Conflict("no backup target is configured; an operator adds one first")
    return target


def remove_target(session: Session, *, actor: Actor, target_id: str) -> None:
    """Refused (409) while an association's repository lives on the target: its backups would be lost
    to the lab. The row goes with the credentials it holds (SSH identity, S3 keys, REST password); if
    it was the default, the oldest remaining target becomes the default."""
    target = get_target(session, actor=actor, target_id=target_id)
    holding = session.scalar(
        select(func.count()).select_from(BackupRepository).where(BackupRepository.target_id == target.id)
    )
    if holding:
        raise Conflict(
            f"backup target {target.name} still holds the repositories of {holding} association(s); "
            "their backups live there"
        )
    session.delete(target)
    session.flush()
    if target.is_default:
        oldest = session.scalar(select(BackupTarget).order_by(BackupTarget.created_at).limit(1))
        if oldest is not None:
            oldest.is_default = True
            session.flush()
