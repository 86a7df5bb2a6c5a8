from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Response, status

from api.accounts.schemas import TokenIn, TokenOut
from api.base_schemas import Page
from api.deps import ActorDep, CatalogDep, CursorQuery, LimitQuery, SessionDep, SettingsDep
from api.tenants import convert, schemas
from provisioner.auth.actor import Role
from provisioner.tenants import service

router = APIRouter(prefix="/api/v1/tenants", tags=["tenants"])


@router.post("", status_code=status.HTTP_201_CREATED)
def create_tenant(body: schemas.TenantIn, actor: ActorDep, session: SessionDep) -> schemas.TenantOut:
    """Create an association (operators)."""
    row = service.create_tenant(
        session,
        actor=actor,
        slug=body.slug,
        name=body.name,
        contact_email=body.contact_email,
        language=body.language,
    )
    session.commit()
    return convert.tenant(row)


@router.get("")
def list_tenants(
    actor: ActorDep, session: SessionDep, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Page[schemas.TenantOut]:
    """Associations the caller may see."""
    page = service.list_tenants(session, actor=actor, limit=limit, cursor=cursor)
    return Page(items=[convert.tenant(t) for t in page.items], next=page.next)


@router.get("/{tenant_id}")
def get_tenant(
    tenant_id: str, actor: ActorDep, session: SessionDep, catalog: CatalogDep, settings: SettingsDep
) -> schemas.TenantOut:
    """One association with its quota and what it uses."""
    row = service.get_tenant(session, actor=actor, tenant_id=tenant_id)
    return convert.tenant_with_usage(session, catalog, settings, row)


@router.patch("/{tenant_id}")
def patch_tenant(
    tenant_id: str,
    *,
    body: schemas.TenantPatch,
    actor: ActorDep,
    session: SessionDep,
    catalog: CatalogDep,
    settings: SettingsDep,
) -> schemas.TenantOut:
    """Operators set the quota: `{"quota": {"instances": 3}}`; null goes back to the lab's default."""
    changes = body.quota.model_dump(include=body.quota.model_fields_set) if body.quota else {}
    row = service.set_quota(session, actor=actor, tenant_id=tenant_id, changes=changes)
    session.commit()
    return convert.tenant_with_usage(session, catalog, settings, row)


@router.post("/{tenant_id}/tokens", status_code=status.HTTP_201_CREATED)
def create_token(
    tenant_id: str, body: TokenIn, actor: ActorDep, session: SessionDep, response: Response
) -> TokenOut:
    """Make an API token for an association; the token is shown once in this answer."""
    response.headers["Cache-Control"] = "no-store"  # shown once: kept by no cache and no stored reply
    row, plain = service.issue_tenant_token(
        session,
        actor=actor,
        tenant_id=tenant_id,
        role=Role(body.role),
        name=body.name,
        lifetime=timedelta(days=body.expires_in_days),
    )
    session.commit()
    return TokenOut(
        id=row.id, name=row.name, role=row.role, tenant=row.tenant_id, expires_at=row.expires_at, token=plain
    )
