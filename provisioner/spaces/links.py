"""Signed links for the moderators of a space whose service takes tokens instead of accounts (a shared
Jitsi): a JWT (RFC 7519, HS256) signed with the shared instance's own secret, naming the space as the
tenant ("sub") it may open meetings in. The link is shown to the caller and kept nowhere."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from joserfc import jwt
from joserfc.jwk import OctKey
from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor
from provisioner.catalog.loader import Catalog
from provisioner.catalog.sharing import shared_mode
from provisioner.config import Settings
from provisioner.crypto import decrypt
from provisioner.errors import Conflict, InvalidInput
from provisioner.models import Space
from provisioner.spaces.service import get_space, shared_template
from provisioner.spaces.states import SpaceState
from provisioner.timeutil import utcnow


@dataclass(frozen=True)
class SignedLink:
    url: str
    expires_at: datetime


def tenant_of(space: Space) -> str:
    """The space's tenant in the service: its id, which no later space gets, so a removed space's
    links never open another's meetings (its subdomain may be taken again)."""
    return space.id.replace("_", "")


def signed_token(*, secret: str, claims: dict[str, object]) -> str:
    return jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(secret))


def moderator_link(
    session: Session,
    settings: Settings,
    catalog: Catalog,
    *,
    actor: Actor,
    space_id: str,
    room: str,
    days: int,
    name: str,
) -> SignedLink:
    """A link into ``room`` of the space (``*``: any of its rooms, the link then leads to its start
    page), valid for ``days``, for a moderator shown as ``name``."""
    space = get_space(session, actor=actor, space_id=space_id)
    actor.require_write(space.tenant_id, "space")
    template = shared_template(catalog, space.template)
    links = shared_mode(template.sharing, template.name).signed_links
    if links is None:
        raise Conflict(f"the {template.name} service has no signed links; its space has a first admin")
    if space.state != SpaceState.RUNNING or space.instance is None or space.url is None:
        raise Conflict(f"the space is {space.state}; only a running space's moderators get links")
    if days > links.max_days:
        said = f"a link of the {template.name} service is valid for {links.max_days} days at most"
        raise InvalidInput(said, errors=[{"field": "body.days", "message": said}])
    stored = next((s for s in space.instance.secrets if s.name == links.secret), None)
    if stored is None:
        raise Conflict("the shared instance has no signing secret yet")
    expires = utcnow() + timedelta(days=days)
    tenant = tenant_of(space)
    claims: dict[str, object] = {
        "iss": links.issuer,
        "aud": links.audience,
        "sub": tenant,
        "room": room,
        "exp": int(expires.timestamp()),
        "context": {"user": {"name": name}},
    }
    token = signed_token(secret=decrypt(settings, stored.encrypted), claims=claims)
    path = links.path.replace("{space}", tenant).replace("{room}", "" if room == "*" else quote(room))
    return SignedLink(url=f"{space.url.rstrip('/')}{path}?{links.parameter}={token}", expires_at=expires)
