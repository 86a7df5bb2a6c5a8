"""Secrets generated per instance: stored encrypted, and shown to the association's admin only once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor
from provisioner.catalog.model import Template
from provisioner.catalog.secrets import generate_secrets
from provisioner.config import Settings
from provisioner.crypto import decrypt, encrypt
from provisioner.errors import Conflict, DomainError
from provisioner.models import Backup, BackupRestore, Instance, InstanceSecret, Job
from provisioner.timeutil import utcnow


class CredentialsGone(DomainError):
    status_code = 410
    title = "Gone"


@dataclass(frozen=True)
class Credentials:
    url: str | None
    values: dict[str, str]


def store_secrets(settings: Settings, instance: Instance, template: Template) -> None:
    """Generated once: an instance that has its secrets keeps them (a re-deploy must not change them)."""
    existing = {s.name for s in instance.secrets}
    for name, value in generate_secrets(template).items():
        if name not in existing:
            instance.secrets.append(
                InstanceSecret(
                    name=name, encrypted=encrypt(settings, value), shown=template.secrets[name].show
                )
            )


def renew_shown_secrets(settings: Settings, instance: Instance, template: Template) -> None:
    """New values for the secrets shown to the admin (a credentials reset); the others stay as they are."""
    existing = {s.name: s for s in instance.secrets}
    for name, value in generate_secrets(template).items():
        if not template.secrets[name].show:
            continue
        if name in existing:
            existing[name].encrypted = encrypt(settings, value)
        else:
            instance.secrets.append(InstanceSecret(name=name, encrypted=encrypt(settings, value), shown=True))


def copied_from(session: Session, *, instance: Instance) -> Backup | None:
    """The other instance's backup this one was made from (a restore into a new instance), else None."""
    if instance.copy_of_backup_id is not None:
        return session.get(Backup, instance.copy_of_backup_id)
    first_foreign_restore = (
        select(Backup)
        .join(BackupRestore, BackupRestore.backup_id == Backup.id)
        .join(Job, Job.id == BackupRestore.job_id)
        .where(Job.instance_id == instance.id, Backup.instance_id != instance.id)
        .order_by(Job.created_at)
        .limit(1)
    )
    return session.scalars(first_foreign_restore).unique().first()


def logins_kept_from(session: Session, *, instance: Instance, template: Template) -> Backup | None:
    """For a copy whose template cannot give its admin a new password (no ``hooks.reset_credentials``):
    the backup whose accounts and passwords it keeps. Showing it a generated password would show one
    that its restored data does not know."""
    if template.hooks.reset_credentials is not None:
        return None
    return copied_from(session, instance=instance)


def reveal_credentials(
    session: Session, settings: Settings, *, actor: Actor, instance: Instance, template: Template
) -> Credentials:
    actor.require_write(instance.tenant_id, "instance")
    if not instance.secrets:
        raise Conflict("the instance gets its credentials when it is approved")
    source = logins_kept_from(session, instance=instance, template=template)
    if source is not None:
        original = source.instance.name
        raise Conflict(
            f"{instance.name} is a copy of {original} made from its backup of "
            f"{source.created_at:%Y-%m-%d %H:%M} UTC and keeps the accounts and passwords {original} had "
            f"then: sign in with those. {template.name} cannot be given a new admin password from "
            "outside, so there is no password of its own to show"
        )
    # Marked shown only where nobody marked it yet: of two requests at once, exactly one wins (the
    # other waits for its row lock on PostgreSQL, for the write lock on SQLite, and then finds it set).
    shown_now = session.execute(
        update(Instance)
        .where(Instance.id == instance.id, Instance.credentials_revealed_at.is_(None))
        .values(credentials_revealed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if shown_now.rowcount != 1:  # type: ignore[attr-defined]
        raise CredentialsGone(
            "the credentials were shown once already and are not kept in readable form for showing again; "
            "an operator can reset them"
        )
    session.refresh(instance, ["credentials_revealed_at"])
    return Credentials(
        url=instance.url,
        values={s.name: decrypt(settings, s.encrypted) for s in instance.secrets if s.shown},
    )
