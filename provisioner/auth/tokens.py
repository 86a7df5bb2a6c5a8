"""API tokens: random, shown once, stored as a SHA-256 digest.

They carry 256 random bits, so a fast hash is enough; passwords (chosen by people) need a slow one.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor, Role
from provisioner.errors import NotFound, Unauthorized
from provisioner.models import ApiToken
from provisioner.pagination import Page, paginate
from provisioner.timeutil import utcnow

# How stale a token's last use may be: a read needs no write (and no lock on the token's row, which
# every request of one client wants at once) while the figure is still this fresh.
LAST_USE_ACCURACY = timedelta(minutes=1)

# How long a token works unless its maker asks otherwise; a new one is made before it ends.
DEFAULT_LIFETIME = timedelta(days=90)
MAX_LIFETIME = timedelta(days=365)
TOKEN_PREFIX = "prv_"  # noqa: S105 - a marker that makes leaked tokens easy to find, not a secret


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session,
    *,
    name: str,
    role: Role,
    tenant_id: str | None,
    lifetime: timedelta = DEFAULT_LIFETIME,
    created_by: str | None = None,
) -> tuple[ApiToken, str]:
    if (role is Role.OPERATOR) != (tenant_id is None):
        raise ValueError("operator tokens have no tenant; tenant tokens need one")
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name,
        role=role.value,
        tenant_id=tenant_id,
        token_hash=digest(plain),
        expires_at=utcnow() + min(lifetime, MAX_LIFETIME),
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    return row, plain


def valid_token(session: Session, *, token: str) -> ApiToken | None:
    """The token's row while it may be used, without touching it; None when unknown, revoked or expired."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        return None
    return row


def actor_of(row: ApiToken) -> Actor:
    return Actor(token_id=row.id, role=Role(row.role), tenant_id=row.tenant_id)


def authenticate(session: Session, *, token: str) -> Actor:
    row = valid_token(session, token=token)
    if row is None:
        raise Unauthorized("the token is unknown, was revoked or has expired")
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USE_ACCURACY:
        row.last_used_at = now
    return actor_of(row)


def list_tokens(
    session: Session, *, actor: Actor, limit: int, cursor: str | None, tenant_id: str | None = None
) -> Page[ApiToken]:
    """Operators see every token (or one tenant's), a tenant's admins their own; never the token itself."""
    query = select(ApiToken)
    if tenant_id is not None:
        query = query.where(ApiToken.tenant_id == tenant_id)
    if not actor.is_operator:
        assert actor.tenant_id is not None  # noqa: S101 - only operators have no tenant
        actor.require_write(actor.tenant_id, "tenant")
        query = query.where(ApiToken.tenant_id == actor.tenant_id)
    return paginate(session, query, ApiToken, limit=limit, cursor=cursor)


def revoke_token(session: Session, *, actor: Actor, token_id: str) -> None:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound("token not found")
    if row.tenant_id is None:
        if not actor.is_operator:
            raise NotFound("token not found")
    else:
        actor.require_write(row.tenant_id, "token")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()


def revoke_tokens_made_by(session: Session, *, principal: str) -> None:
    """A person who leaves takes the tokens they made along: scripts must not outlive their keeper."""
    session.execute(
        update(ApiToken)
        .where(ApiToken.created_by == principal, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
