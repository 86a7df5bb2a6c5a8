"""People: logging in and out, invitations, password resets and an association's members."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from api.accounts import schemas
from api.base_schemas import Page
from api.deps import ActorDep, SessionDep, SettingsDep, client_address, require_csrf, wait_out_failed_logins
from provisioner.accounts import oidc, service
from provisioner.accounts.sessions import (
    SESSION_COOKIE,
    cookie_attributes,
    end_session,
    resolve_session,
    start_session,
)
from provisioner.auth.actor import Role
from provisioner.config import Settings
from provisioner.errors import InvalidInput, Unauthorized
from provisioner.models import User

router = APIRouter(prefix="/api/v1", tags=["accounts"])


def user_out(user: User) -> schemas.UserOut:
    return schemas.UserOut(
        id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        tenant=user.tenant_id,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
        disabled=user.disabled_at is not None,
    )


def _invitation_out(invited: service.Invited) -> schemas.InvitationOut:
    row = invited.invitation
    return schemas.InvitationOut(
        id=row.id,
        email=row.email,
        role=row.role,
        tenant=row.tenant_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
        mailed=invited.handed.mailed,
        link=invited.handed.link,
    )


@router.post("/session")
async def log_in(
    body: schemas.LoginIn, request: Request, response: Response, session: SessionDep, settings: SettingsDep
) -> schemas.SessionOut:
    """Sign in to the portal with e-mail and password; answers with a session cookie and the CSRF token for
    changes."""
    await wait_out_failed_logins(session, body.email)

    def checked() -> schemas.SessionOut:
        user = service.authenticate_password(
            session, email=body.email, password=body.password, client_address=client_address(request)
        )
        response.headers["Cache-Control"] = "no-store"  # the answer names the new session's CSRF token
        row, cookie = start_session(
            session,
            user=user,
            client_address=client_address(request),
            idle_minutes=settings.session_idle_minutes,
        )
        session.commit()
        response.set_cookie(SESSION_COOKIE, cookie, **cookie_attributes(settings))
        return schemas.SessionOut(csrf_token=row.csrf_token)

    return await run_in_threadpool(checked)


@router.get("/session")
def current_session(request: Request, session: SessionDep) -> schemas.SessionOut:
    """The CSRF token of the session the cookie belongs to (after a login through the identity provider)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    resolved = resolve_session(session, cookie=cookie) if cookie else None
    session.commit()
    if resolved is None:
        raise Unauthorized("not logged in")
    return schemas.SessionOut(csrf_token=resolved[1].csrf_token)


def _oidc_callback_url(request: Request, settings: Settings) -> str:
    base = settings.public_url or str(request.base_url)
    return base.rstrip("/") + "/api/v1/oidc/callback"


@router.get("/oidc/login")
def oidc_login(request: Request, session: SessionDep, settings: SettingsDep) -> RedirectResponse:
    """Start a sign-in through the lab's OpenID Connect provider (a redirect to it)."""
    url, binding = oidc.start_login(session, settings, redirect_uri=_oidc_callback_url(request, settings))
    session.commit()
    response = RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)
    # Lax: the browser sends it back on the provider's redirect (a top-level GET), not on other sites' posts.
    response.set_cookie(
        oidc.BINDING_COOKIE,
        binding,
        **_binding_cookie(settings),
        max_age=int(oidc.LOGIN_LIFETIME.total_seconds()),
    )
    return response


def _binding_cookie(settings: Settings) -> dict[str, Any]:
    attributes = cookie_attributes(settings)
    return {"httponly": True, "samesite": "lax", "secure": attributes["secure"], "path": "/api/v1/oidc"}


@router.get("/oidc/callback")
def oidc_callback(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    code: str = Query(max_length=2000),
    state: str = Query(max_length=200),
) -> RedirectResponse:
    """Back from the identity provider: log the person in and send them to the portal."""
    try:
        user = oidc.finish_login(
            session,
            settings,
            state=state,
            binding=request.cookies.get(oidc.BINDING_COOKIE),
            code=code,
            redirect_uri=_oidc_callback_url(request, settings),
        )
    finally:
        session.commit()  # the used-up login state goes, whatever the outcome
    _, cookie = start_session(
        session, user=user, client_address=client_address(request), idle_minutes=settings.session_idle_minutes
    )
    session.commit()
    response = RedirectResponse("/", status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(SESSION_COOKIE, cookie, **cookie_attributes(settings))
    response.delete_cookie(oidc.BINDING_COOKIE, **_binding_cookie(settings))
    return response


@router.delete("/session", status_code=status.HTTP_204_NO_CONTENT)
def log_out(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """End the current portal session."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and (resolved := resolve_session(session, cookie=cookie)) is not None:
        require_csrf(resolved[1], request.headers.get("x-csrf-token"))
        end_session(session, cookie=cookie)
    session.commit()
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    attributes = cookie_attributes(settings)
    attributes.pop("max_age")
    response.delete_cookie(SESSION_COOKIE, **attributes)
    return response


@router.get("/tenants/{tenant_id}/members")
def list_members(tenant_id: str, actor: ActorDep, session: SessionDep) -> Page[schemas.UserOut]:
    """The association's people and their roles."""
    users = service.list_members(session, actor=actor, tenant_id=tenant_id)
    return Page(items=[user_out(u) for u in users])


@router.post("/tenants/{tenant_id}/invitations", status_code=status.HTTP_201_CREATED)
def invite_member(
    tenant_id: str,
    body: schemas.TenantInvitationIn,
    actor: ActorDep,
    session: SessionDep,
    settings: SettingsDep,
) -> schemas.InvitationOut:
    """Invite a person into the association by e-mail, with a role; the link in the mail is valid for a
    limited time."""
    row = service.invite(
        session, settings, actor=actor, tenant_id=tenant_id, email=body.email, role=Role(body.role)
    )
    session.commit()
    return _invitation_out(row)


@router.post("/invitations", status_code=status.HTTP_201_CREATED)
def invite_operator(
    body: schemas.OperatorInvitationIn, actor: ActorDep, session: SessionDep, settings: SettingsDep
) -> schemas.InvitationOut:
    """Invite a person to become an operator of the lab (operators only)."""
    row = service.invite(session, settings, actor=actor, tenant_id=None, email=body.email, role=Role.OPERATOR)
    session.commit()
    return _invitation_out(row)


@router.post("/invitations/accept", status_code=status.HTTP_201_CREATED)
def accept_invitation(body: schemas.AcceptIn, session: SessionDep) -> schemas.UserOut:
    """Accept an invitation with its token from the mail, and set a password."""
    user = service.accept_invitation(session, token=body.token, name=body.name, password=body.password)
    session.commit()
    return user_out(user)


@router.get("/operators")
def list_operators(actor: ActorDep, session: SessionDep) -> Page[schemas.UserOut]:
    """The lab's operators (operators only)."""
    return Page(items=[user_out(u) for u in service.list_operators(session, actor=actor)])


@router.get("/users/{user_id}")
def get_user(user_id: str, actor: ActorDep, session: SessionDep) -> schemas.UserOut:
    """One person: name, e-mail, role, whether disabled."""
    return user_out(service.get_user(session, actor=actor, user_id=user_id))


@router.patch("/users/{user_id}")
def change_user(
    user_id: str, body: schemas.UserPatchIn, actor: ActorDep, session: SessionDep
) -> schemas.UserOut:
    """Change a person's role, or disable them."""
    if body.role is None and body.disabled is None:
        raise InvalidInput(
            "send role, disabled or both",
            errors=[{"field": "body.role", "message": "role or disabled is needed"}],
        )
    user = service.get_user(session, actor=actor, user_id=user_id)
    if body.role is not None:
        user = service.set_member_role(session, actor=actor, user_id=user_id, role=Role(body.role))
    if body.disabled is not None:
        user = service.set_disabled(session, actor=actor, user_id=user_id, disabled=body.disabled)
    session.commit()
    return user_out(user)


@router.delete("/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_user(user_id: str, actor: ActorDep, session: SessionDep) -> None:
    """Remove a person; their sessions and tokens end with them."""
    service.remove_member(session, actor=actor, user_id=user_id)
    session.commit()


@router.post("/users/{user_id}/password-reset", status_code=status.HTTP_201_CREATED)
def reset_password_for(
    user_id: str, actor: ActorDep, session: SessionDep, settings: SettingsDep
) -> schemas.ResetLinkOut:
    """Start a password reset for someone else: the link is mailed to them, or, without mail, answered here
    once to pass on."""
    handed = service.reset_password_for(session, settings, actor=actor, user_id=user_id)
    session.commit()
    return schemas.ResetLinkOut(mailed=handed.mailed, link=handed.link)


@router.post("/password-reset", status_code=status.HTTP_202_ACCEPTED, response_class=Response)
def request_password_reset(
    body: schemas.ResetRequestIn, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """Ask for a password reset link by e-mail; the answer is the same whether or not the address is known."""
    service.request_password_reset(
        session, settings, email=body.email, client_address=client_address(request)
    )
    session.commit()
    return Response(status_code=status.HTTP_202_ACCEPTED)


@router.post("/password-reset/confirm", status_code=status.HTTP_204_NO_CONTENT)
def confirm_password_reset(body: schemas.ResetConfirmIn, session: SessionDep) -> None:
    """Set a new password with the token from the reset mail."""
    service.reset_password(session, token=body.token, password=body.password)
    session.commit()
