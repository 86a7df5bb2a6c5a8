"""API tokens: random, shown once, stored as a SHA-256 digest.

They carry 256 random bits, so a fast hash is enough; passwords (chosen by people) need a slow one.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor, Role
from provisioner.errors import NotFound, Unauthorized
from provisioner.models import ApiToken
from provisioner.pagination import Page, paginate
from provisioner.timeutil import utcnow

TOKEN_PREFIX = "prv_"  # noqa: S105 - a marker that makes leaked tokens easy to find, not a secret


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, *, name: str, role: Role, tenant_id: str | None) -> tuple[ApiToken, str]:
    if (role is Role.OPERATOR) != (tenant_id is None):
        raise ValueError("operator tokens have no tenant; tenant tokens need one")
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name, role=role.value, tenant_id=tenant_id, token_hash=digest(plain))
    session.add(row)
    session.flush()
    return row, plain


def valid_token(session: Session, *, token: str) -> ApiToken | None:
    """The token's row while it may be used, without touching it; None when unknown or revoked."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(token)))
    if row is None or row.revoked_at is not None:
        return None
    return row


def actor_of(row: ApiToken) -> Actor:
    return Actor(token_id=row.id, role=Role(row.role), tenant_id=row.tenant_id)


def authenticate(session: Session, *, token: str) -> Actor:
    row = valid_token(session, token=token)
    if row is None:
        raise Unauthorized("the token is unknown or was revoked")
    row.last_used_at = utcnow()
    return actor_of(row)


def list_tokens(session: Session, *, actor: Actor, limit: int, cursor: str | None) -> Page[ApiToken]:
    """Operators see every token, a tenant's admins that tenant's; never the token itself."""
    query = select(ApiToken)
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
