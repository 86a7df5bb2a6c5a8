"""A space's first admin, shown to its association's admin once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor
from provisioner.config import Settings
from provisioner.crypto import decrypt
from provisioner.errors import Conflict
from provisioner.instances.credentials import CredentialsGone
from provisioner.models import Space
from provisioner.timeutil import utcnow


@dataclass(frozen=True)
class SpaceAdmin:
    url: str | None
    user: str
    password: str


def reveal_space_admin(session: Session, settings: Settings, *, actor: Actor, space: Space) -> SpaceAdmin:
    actor.require_write(space.tenant_id, "space")
    if space.encrypted_admin_password is None or space.admin_user is None:
        raise Conflict("the space gets its first admin when it is approved")
    # Marked shown only where nobody marked it yet: of two requests at once exactly one wins (the other
    # waits for the row lock on PostgreSQL, for the write lock on SQLite, and then finds it set).
    shown_now = session.execute(
        update(Space)
        .where(Space.id == space.id, Space.credentials_revealed_at.is_(None))
        .values(credentials_revealed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if shown_now.rowcount != 1:  # type: ignore[attr-defined]
        raise CredentialsGone(
            "the first admin's password was shown once already and is not shown again; "
            "sign in to the space and set a new one there"
        )
    session.refresh(space, ["credentials_revealed_at"])
    return SpaceAdmin(
        url=space.url, user=space.admin_user, password=decrypt(settings, space.encrypted_admin_password)
    )
