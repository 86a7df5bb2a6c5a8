"""Secrets generated per instance: stored encrypted, and shown to the association's admin only once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor
from provisioner.catalog.model import Template
from provisioner.catalog.secrets import generate_secrets
from provisioner.config import Settings
from provisioner.crypto import decrypt, encrypt
from provisioner.errors import Conflict, DomainError
from provisioner.models import Instance, InstanceSecret
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


def reveal_credentials(
    session: Session, settings: Settings, *, actor: Actor, instance: Instance
) -> Credentials:
    actor.require_write(instance.tenant_id, "instance")
    if not instance.secrets:
        raise Conflict("the instance gets its credentials when it is approved")
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
