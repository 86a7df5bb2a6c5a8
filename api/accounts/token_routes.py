"""Listing and revoking API tokens; new tokens come from /api/v1/tenants/{id}/tokens."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.accounts import schemas
from api.base_schemas import Page
from api.deps import ActorDep, CursorQuery, LimitQuery, SessionDep
from provisioner.auth.tokens import list_tokens, revoke_token

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])


@router.get("")
def list_api_tokens(
    actor: ActorDep, session: SessionDep, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Page[schemas.TokenInfo]:
    """API tokens the caller may see (never the tokens themselves)."""
    page = list_tokens(session, actor=actor, limit=limit, cursor=cursor)
    items = [
        schemas.TokenInfo(
            id=t.id,
            name=t.name,
            role=t.role,
            tenant=t.tenant_id,
            created_at=t.created_at,
            last_used_at=t.last_used_at,
            revoked_at=t.revoked_at,
            expires_at=t.expires_at,
        )
        for t in page.items
    ]
    return Page(items=items, next=page.next)


@router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_api_token(token_id: str, actor: ActorDep, session: SessionDep) -> None:
    """Revoke an API token at once."""
    revoke_token(session, actor=actor, token_id=token_id)
    session.commit()
