from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.accounts import ratelimit
from provisioner.auth.actor import Actor, Role
from provisioner.auth.tokens import create_token
from provisioner.errors import Conflict, NotFound
from provisioner.models import ApiToken, Tenant
from provisioner.pagination import Page, paginate


def create_tenant(session: Session, *, actor: Actor, slug: str, name: str, contact_email: str) -> Tenant:
    actor.require_operator()
    if session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
        raise Conflict(f"a tenant with the slug {slug!r} exists already")
    tenant = Tenant(slug=slug, name=name, contact_email=contact_email)
    session.add(tenant)
    session.flush()
    return tenant


def get_tenant(session: Session, *, actor: Actor, tenant_id: str) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None or not actor.can_see_tenant(tenant.id):
        raise NotFound("tenant not found")
    return tenant


def list_tenants(session: Session, *, actor: Actor, limit: int, cursor: str | None) -> Page[Tenant]:
    query = select(Tenant)
    if not actor.is_operator:
        query = query.where(Tenant.id == actor.tenant_id)
    return paginate(session, query, Tenant, limit=limit, cursor=cursor)


def issue_tenant_token(
    session: Session, *, actor: Actor, tenant_id: str, role: Role, name: str
) -> tuple[ApiToken, str]:
    """Operators issue tokens to any tenant, a tenant's admins to their own tenant."""
    tenant = get_tenant(session, actor=actor, tenant_id=tenant_id)
    actor.require_write(tenant.id, "tenant")
    if role is Role.OPERATOR:
        raise Conflict("operator tokens are not issued to tenants")
    ratelimit.hit(session, ratelimit.TOKENS_PER_ACTOR, actor.principal)
    return create_token(session, name=name, role=role, tenant_id=tenant.id)
