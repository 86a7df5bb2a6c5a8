"""An association's people: who they are, their roles, invitations, and removal."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from api.deps import SessionDep, SettingsDep
from api.portal.auth import SignedForm, Viewer, ViewerDep
from api.portal.rendering import render
from provisioner.accounts.service import (
    Handed,
    invite,
    list_members,
    remove_member,
    reset_password_for,
    set_member_role,
)
from provisioner.auth.actor import Role
from provisioner.errors import DomainError, InvalidInput
from provisioner.exports.association import association_exports
from provisioner.pagination import MAX_LIMIT
from provisioner.tenants.service import get_tenant, list_tenants

router = APIRouter(include_in_schema=False)
TenantQuery = Annotated[str | None, Query(max_length=32)]
ROLES = (Role.ADMIN, Role.MEMBER)


def tenant_of(viewer: Viewer, chosen: str | None) -> str | None:
    return chosen if viewer.is_operator else viewer.actor.tenant_id


def _back(tenant_id: str, notice: str) -> RedirectResponse:
    return RedirectResponse(f"/team?tenant={quote(tenant_id)}&notice={notice}", status_code=303)


@router.get("/team")
def team(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    tenant: TenantQuery = None,
    notice: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    tenant_id = tenant_of(viewer, tenant)
    if tenant_id is None:  # an operator who has not chosen an association yet
        tenants = list_tenants(session, actor=viewer.actor, limit=MAX_LIMIT, cursor=None).items
        return render(request, "team_choose.html", {"tenants": tenants})
    return team_page(request, viewer, session, tenant_id=tenant_id, notice=notice)


def team_page(
    request: Request,
    viewer: Viewer,
    session: Session,
    *,
    tenant_id: str,
    notice: str | None,
    handed: Handed | None = None,
    extra: dict[str, object] | None = None,
) -> Response:
    context = {
        "tenant": get_tenant(session, actor=viewer.actor, tenant_id=tenant_id),
        "members": list_members(session, actor=viewer.actor, tenant_id=tenant_id),
        "roles": ROLES,
        "notice": notice,
        # Shown in this answer only (never in an address): the one-time link to pass on without mail.
        "handed_link": handed.link if handed is not None else None,
        "association_exports": association_exports(session, actor=viewer.actor, tenant_id=tenant_id)[:1],
        "export_keep_hours": request.app.state.settings.export_keep_hours,
        **(extra or {}),
    }
    return render(request, "team.html", context)


@router.post("/team/invite")
def send_invitation(
    request: Request, viewer: ViewerDep, form: SignedForm, session: SessionDep, settings: SettingsDep
) -> Response:
    tenant_id = tenant_of(viewer, form.get("tenant"))
    if tenant_id is None:
        raise InvalidInput("choose an association")
    try:
        role = Role(form.get("role", ""))
        invited = invite(
            session, settings, actor=viewer.actor, tenant_id=tenant_id, email=form.get("email", ""), role=role
        )
    except ValueError:
        return _back(tenant_id, "invite-422")
    except DomainError as exc:
        session.rollback()
        if exc.status_code == 403:
            raise
        return _back(tenant_id, f"invite-{exc.status_code}")
    session.commit()
    if invited.handed.mailed:
        return _back(tenant_id, "invited")
    return team_page(
        request, viewer, session, tenant_id=tenant_id, notice="invited-unmailed", handed=invited.handed
    )


@router.post("/team/{user_id}/password-reset")
def reset_password(
    request: Request,
    user_id: str,
    *,
    viewer: ViewerDep,
    form: SignedForm,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    tenant_id = tenant_of(viewer, form.get("tenant")) or ""
    handed = reset_password_for(session, settings, actor=viewer.actor, user_id=user_id)
    session.commit()
    if handed.mailed:
        return _back(tenant_id, "reset-mailed")
    return team_page(request, viewer, session, tenant_id=tenant_id, notice="reset-unmailed", handed=handed)


@router.post("/team/{user_id}/role")
def change_role(user_id: str, viewer: ViewerDep, form: SignedForm, session: SessionDep) -> Response:
    try:
        user = set_member_role(session, actor=viewer.actor, user_id=user_id, role=Role(form.get("role", "")))
    except ValueError:
        raise InvalidInput("admin or member") from None
    except DomainError as exc:
        session.rollback()
        if exc.status_code != 409:
            raise
        return _back(form.get("tenant") or viewer.actor.tenant_id or "", "last-admin")
    session.commit()
    return _back(user.tenant_id or "", "role-changed")


@router.post("/team/{user_id}/remove")
def remove(user_id: str, viewer: ViewerDep, form: SignedForm, session: SessionDep) -> Response:
    tenant_id = tenant_of(viewer, form.get("tenant")) or ""
    try:
        remove_member(session, actor=viewer.actor, user_id=user_id)
    except DomainError as exc:
        session.rollback()
        if exc.status_code != 409:
            raise
        return _back(tenant_id, "last-admin")
    session.commit()
    return _back(tenant_id, "removed")
