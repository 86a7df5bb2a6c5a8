"""Signing in and out, accepting an invitation, resetting a password, choosing the language."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from api.deps import SessionDep, SettingsDep, client_address, wait_out_failed_logins
from api.portal.auth import FORM_TOKEN_CHECKED, FormSender, issue_form_token, safe_next, viewer_of
from api.portal.i18n import LANGUAGE_COOKIE, LANGUAGES
from api.portal.i18n import choose_language as language_of
from api.portal.rendering import render
from provisioner.accounts import oidc
from provisioner.accounts import service as accounts
from provisioner.accounts.sessions import (
    SESSION_COOKIE,
    cookie_attributes,
    end_session,
    secure_cookies,
    start_session,
)
from provisioner.config import Settings
from provisioner.errors import DomainError, InvalidInput, NotFound
from provisioner.models import User
from provisioner.notices.channels import mail_configured

router = APIRouter(include_in_schema=False)
FormText = Annotated[str, Form(max_length=1000)]
Password = Annotated[str, Form(max_length=1000)]


def signed_in_response(
    request: Request, session: SessionDep, settings: Settings, user: User, target: str
) -> Response:
    _row, cookie = start_session(
        session, user=user, client_address=client_address(request), idle_minutes=settings.session_idle_minutes
    )
    # The language the person reads the portal in is the one their mail is written in.
    user.language = language_of(request)
    session.commit()
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, cookie, **cookie_attributes(settings))
    return response


@router.get("/login")
def login_form(request: Request, session: SessionDep, settings: SettingsDep, next: str = "/") -> Response:
    if viewer_of(request, session) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    issue_form_token(request, secure=secure_cookies(settings))
    return render(
        request, "login.html", {"next": safe_next(next), "email": "", "oidc": oidc.enabled(settings)}
    )


@router.post("/login", dependencies=[FORM_TOKEN_CHECKED])
async def login(
    request: Request,
    *,
    session: SessionDep,
    settings: SettingsDep,
    email: FormText,
    password: Password,
    next: FormText = "/",
) -> Response:
    await wait_out_failed_logins(session, email)

    def checked() -> Response:
        try:
            user = accounts.authenticate_password(
                session, email=email, password=password, client_address=client_address(request)
            )
        except DomainError as exc:
            session.commit()  # failed attempts count towards the rate limit
            issue_form_token(request, secure=secure_cookies(settings))
            context = {
                "next": safe_next(next),
                "email": email,
                "failed": exc.status_code,
                "oidc": oidc.enabled(settings),
            }
            return render(request, "login.html", context, status_code=exc.status_code)
        return signed_in_response(request, session, settings, user, safe_next(next))

    return await run_in_threadpool(checked)


@router.post("/logout")
def logout(viewer: FormSender, session: SessionDep, settings: SettingsDep) -> Response:
    if viewer is not None:
        end_session(session, cookie=viewer.cookie)
        session.commit()
    response = RedirectResponse("/login", status_code=303)
    attributes = cookie_attributes(settings)
    attributes.pop("max_age")
    response.delete_cookie(SESSION_COOKIE, **attributes)
    return response


@router.post("/language")
def choose_language(language: FormText, next: FormText = "/") -> Response:
    # Not worth a CSRF check: the worst a forged post does is switch the language.
    response = RedirectResponse(safe_next(next), status_code=303)
    if language in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, language, samesite="lax", path="/", max_age=365 * 86400)
    return response


@router.get("/invitations/{token}")
def invitation_form(request: Request, token: str, session: SessionDep, settings: SettingsDep) -> Response:
    invitation = accounts.invitation_for_token(session, token=token)
    issue_form_token(request, secure=secure_cookies(settings))
    return render(request, "invitation.html", {"invitation": invitation, "errors": {}, "name": ""})


@router.post("/invitations/{token}", dependencies=[FORM_TOKEN_CHECKED])
def accept_invitation(
    request: Request,
    token: str,
    *,
    session: SessionDep,
    settings: SettingsDep,
    name: FormText,
    password: Password,
) -> Response:
    invitation = accounts.invitation_for_token(session, token=token)
    try:
        user = accounts.accept_invitation(session, token=token, name=name, password=password)
    except InvalidInput as exc:
        session.rollback()
        issue_form_token(request, secure=secure_cookies(settings))
        errors = {str(e["field"]).rsplit(".", 1)[-1]: str(e["message"]) for e in exc.errors or []}
        context = {"invitation": invitation, "errors": errors or {"password": exc.detail}, "name": name}
        return render(request, "invitation.html", context, status_code=422)
    return signed_in_response(request, session, settings, user, "/")


@router.get("/password-reset")
def reset_request_form(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    issue_form_token(request, secure=secure_cookies(settings))
    return render(
        request, "reset_request.html", {"sent": False, "mail_on": mail_configured(session, settings)}
    )


@router.post("/password-reset", dependencies=[FORM_TOKEN_CHECKED])
def request_reset(request: Request, session: SessionDep, settings: SettingsDep, email: FormText) -> Response:
    accounts.request_password_reset(session, settings, email=email, client_address=client_address(request))
    session.commit()
    return render(
        request, "reset_request.html", {"sent": True, "mail_on": mail_configured(session, settings)}
    )


@router.get("/password-reset/{token}")
def reset_form(request: Request, token: str, settings: SettingsDep) -> Response:
    issue_form_token(request, secure=secure_cookies(settings))
    return render(request, "reset.html", {"errors": {}})


@router.post("/password-reset/{token}", dependencies=[FORM_TOKEN_CHECKED])
def reset(
    request: Request,
    token: str,
    *,
    session: SessionDep,
    settings: SettingsDep,
    password: Password,
) -> Response:
    try:
        user = accounts.reset_password(session, token=token, password=password)
    except (InvalidInput, NotFound) as exc:
        session.rollback()
        issue_form_token(request, secure=secure_cookies(settings))
        errors = {"password": exc.detail} if isinstance(exc, InvalidInput) else {"token": exc.detail}
        return render(request, "reset.html", {"errors": errors}, status_code=exc.status_code)
    return signed_in_response(request, session, settings, user, "/")
