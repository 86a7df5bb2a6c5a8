"""A space's first admin, shown to its association's admin once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor
from provisioner.catalog.loader import Catalog
from provisioner.config import Settings
from provisioner.crypto import decrypt
from provisioner.errors import Conflict
from provisioner.instances.credentials import show_once
from provisioner.models import Space


@dataclass(frozen=True)
class SpaceAdmin:
    url: str | None
    user: str
    password: str


def reveal_space_admin(
    session: Session, settings: Settings, *, actor: Actor, space: Space, catalog: Catalog | None = None
) -> SpaceAdmin:
    actor.require_write(space.tenant_id, "space")
    shared = catalog.get(space.template).sharing if catalog is not None else None
    if shared is not None and shared.shared is not None and shared.shared.signed_links is not None:
        raise Conflict(
            "this service has no accounts for a space's moderators: they come in by signed links "
            "(POST /api/v1/spaces/{id}/moderator-links)"
        )
    if space.encrypted_admin_password is None or space.admin_user is None:
        raise Conflict("the space gets its first admin when it is approved")
    show_once(
        session,
        space,
        gone="the first admin's password was shown once already and is not shown again; "
        "sign in to the space and set a new one there",
    )
    return SpaceAdmin(
        url=space.url, user=space.admin_user, password=decrypt(settings, space.encrypted_admin_password)
    )
