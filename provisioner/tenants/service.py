from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.accounts import ratelimit
from provisioner.auth.actor import Actor, Role
from provisioner.auth.tokens import DEFAULT_LIFETIME, create_token
from provisioner.errors import Conflict, NotFound
from provisioner.models import ApiToken, Tenant
from provisioner.pagination import Page, paginate
from provisioner.tenants.leaving import refuse_while_leaving


def create_tenant(
    session: Session,
    *,
    actor: Actor,
    slug: str,
    name: str,
    contact_email: str,
    language: str | None = None,
) -> Tenant:
    """``language`` ("de", "en", or None for the lab's): its mail's language until its people choose."""
    actor.require_operator()
    if session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
        raise Conflict(f"a tenant with the slug {slug!r} exists already")
    tenant = Tenant(slug=slug, name=name, contact_email=contact_email, language=language)
    session.add(tenant)
    session.flush()
    return tenant


def get_tenant(session: Session, *, actor: Actor, tenant_id: str) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None or not actor.can_see_tenant(tenant.id):
        raise NotFound("tenant not found")
    return tenant


def list_tenants(session: Session, *, actor: Actor, limit: int, cursor: str | None) -> Page[Tenant]:
    # The lab's own tenant (owner of the shared instances) is no association.
    query = select(Tenant).where(Tenant.kind == "association")
    if not actor.is_operator:
        query = query.where(Tenant.id == actor.tenant_id)
    return paginate(session, query, Tenant, limit=limit, cursor=cursor)


def issue_tenant_token(
    session: Session,
    *,
    actor: Actor,
    tenant_id: str,
    role: Role,
    name: str,
    lifetime: timedelta = DEFAULT_LIFETIME,
) -> tuple[ApiToken, str]:
    """Operators issue tokens to any tenant, a tenant's admins to their own tenant."""
    tenant = get_tenant(session, actor=actor, tenant_id=tenant_id)
    actor.require_write(tenant.id, "tenant")
    refuse_while_leaving(session, tenant_id=tenant.id, what="a new token")
    if role is Role.OPERATOR:
        raise Conflict("operator tokens are not issued to tenants")
    ratelimit.hit(session, ratelimit.TOKENS_PER_ACTOR, actor.principal)
    return create_token(
        session, name=name, role=role, tenant_id=tenant.id, lifetime=lifetime, created_by=actor.principal
    )


def set_quota(session: Session, *, actor: Actor, tenant_id: str, changes: dict[str, int | None]) -> Tenant:
    """Operators set a tenant's quota; a key left out keeps its value, None goes back to the default."""
    tenant = get_tenant(session, actor=actor, tenant_id=tenant_id)  # another tenant's: 404, as missing
    actor.require_operator()
    for key, value in changes.items():
        setattr(tenant, QUOTA_COLUMNS[key], value)
    session.flush()
    return tenant


QUOTA_COLUMNS = {"instances": "quota_instances", "memory_mb": "quota_memory_mb", "disk_gb": "quota_disk_gb"}
