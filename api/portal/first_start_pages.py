"""The page behind the link the first start prints: the lab's first operator chooses an account."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import SessionDep, SettingsDep
from api.portal.account_pages import signed_in_response
from api.portal.auth import AnonymousForm, issue_form_token
from api.portal.i18n import N_
from api.portal.rendering import render
from provisioner.accounts.first_start import claim_first_start, first_start_invitation
from provisioner.accounts.sessions import secure_cookies
from provisioner.errors import Conflict, InvalidInput
from provisioner.tenants.rules import EMAIL

router = APIRouter(include_in_schema=False)
MESSAGES = {
    "email": N_("Please enter an e-mail address like name@example.org."),
    "name": N_("Please enter your name (up to 200 characters)."),
    "password": N_(
        "This password cannot be used: it needs at least 10 characters and must not be your e-mail address."
    ),
    "taken": N_("A person with this e-mail address has an account already."),
}


def _page(
    request: Request, values: dict[str, str], errors: dict[str, str], status_code: int = 200
) -> Response:
    return render(request, "first_start.html", {"values": values, "errors": errors}, status_code=status_code)


@router.get("/first-start/{token}")
def first_start_form(request: Request, token: str, session: SessionDep, settings: SettingsDep) -> Response:
    first_start_invitation(session, token=token)  # 404 once used, replaced or expired
    issue_form_token(request, secure=secure_cookies(settings))
    return _page(request, {"email": "", "name": ""}, {})


@router.post("/first-start/{token}")
def create_first_operator(
    request: Request, token: str, *, form: AnonymousForm, session: SessionDep, settings: SettingsDep
) -> Response:
    values = {"email": form.get("email", "").strip(), "name": form.get("name", "").strip()}
    errors = {}
    if len(values["email"]) > 254 or not re.fullmatch(EMAIL, values["email"]):
        errors["email"] = MESSAGES["email"]
    if not values["name"] or len(values["name"]) > 200:
        errors["name"] = MESSAGES["name"]
    user = None
    if not errors:
        try:
            user = claim_first_start(
                session,
                token=token,
                email=values["email"],
                name=values["name"],
                password=form.get("password", ""),
            )
        except InvalidInput as exc:
            errors = {
                str(e["field"]): MESSAGES.get(str(e["field"]), MESSAGES["password"]) for e in exc.errors or []
            }
        except Conflict:
            errors = {"email": MESSAGES["taken"]}
    if user is None:
        session.rollback()
        first_start_invitation(session, token=token)
        issue_form_token(request, secure=secure_cookies(settings))
        return _page(request, values, errors, status_code=422)
    # Straight on to what a new lab needs first: a server.
    return signed_in_response(request, session, settings, user, "/operator/servers")
