"""Who looks at a page: the web session behind the cookie, and the CSRF checks of every form.

Every form a page sends is read and checked here, once, as a dependency: a handler declares `SignedForm`
(a signed-in person's form), `AnonymousForm` (a form sent before anyone is signed in), `FORM_TOKEN_CHECKED`
(the same check for a form whose fields are typed form parameters) or `FormSender` (signing out, which
works signed in or not).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from api.audit.middleware import remember_actor
from api.deps import SessionDep
from api.deps import require_csrf as check_session_csrf
from provisioner.accounts.sessions import SESSION_COOKIE, resolve_session
from provisioner.auth.actor import Actor
from provisioner.errors import Forbidden
from provisioner.models import WebSession

# Forms shown before anyone is signed in (sign-in, invitation, password reset) carry a token that must
# match a cookie of the same browser: a double-submit check, since no session holds one yet.
FORM_COOKIE = "provisioner_form"


class SignInRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass(frozen=True)
class Viewer:
    actor: Actor
    web_session: WebSession
    cookie: str
    # A copy: error pages render it after the database session that loaded the row has ended.
    csrf_token: str

    @property
    def is_operator(self) -> bool:
        return self.actor.is_operator

    @property
    def can_change(self) -> bool:
        return self.actor.role.value != "member"


def viewer_of(request: Request, session: Session) -> Viewer | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    found = resolve_session(session, cookie=cookie)
    if found is None:
        return None
    session.commit()  # keeps the session's last-seen time
    actor, web_session = found
    viewer = Viewer(actor=actor, web_session=web_session, cookie=cookie, csrf_token=web_session.csrf_token)
    request.state.viewer = viewer
    remember_actor(request.scope.setdefault("state", {}), actor)  # the audit log names who changed what
    return viewer


def _signed_in(request: Request, session: SessionDep) -> Viewer:
    viewer = viewer_of(request, session)
    if viewer is None:
        raise SignInRequired(request.url.path)
    return viewer


def _operator(viewer: Annotated[Viewer, Depends(_signed_in)]) -> Viewer:
    viewer.actor.require_operator()
    return viewer


ViewerDep = Annotated[Viewer, Depends(_signed_in)]
OperatorDep = Annotated[Viewer, Depends(_operator)]


def login_location(next_path: str) -> str:
    return f"/login?next={quote(safe_next(next_path))}"


def safe_next(value: str | None) -> str:
    """Only a path of this site: never another host (an open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def require_csrf(viewer: Viewer, submitted: str | None) -> None:
    check_session_csrf(viewer.web_session, submitted)


def issue_form_token(request: Request, *, secure: bool) -> str:
    token = request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(24)
    request.state.form_token = token
    request.state.set_form_token = {
        "key": FORM_COOKIE,
        "value": token,
        "httponly": True,
        "samesite": "lax",
        "secure": secure,
        "path": "/",
    }
    return token


def check_form_token(request: Request, submitted: str | None) -> None:
    expected = request.cookies.get(FORM_COOKIE)
    if not expected or not submitted or not hmac.compare_digest(expected, submitted):
        raise Forbidden("the form was out of date; please send it again")


async def _fields_of(request: Request) -> dict[str, str]:
    return {key: value for key, value in (await request.form()).items() if isinstance(value, str)}


async def _signed_form(request: Request, viewer: ViewerDep) -> dict[str, str]:
    """A signed-in person's form, its CSRF token checked against their session."""
    form = await _fields_of(request)
    require_csrf(viewer, form.get("csrf_token"))
    return form


async def _anonymous_form(request: Request) -> dict[str, str]:
    """A form sent before anyone is signed in, its token checked against the browser's form cookie."""
    form = await _fields_of(request)
    check_form_token(request, form.get("csrf_token"))
    return form


async def _form_sender(request: Request, session: SessionDep) -> Viewer | None:
    """Whoever sends a form that works signed out too: a signed-in person's is checked as any other."""
    viewer = viewer_of(request, session)
    if viewer is not None:
        require_csrf(viewer, (await _fields_of(request)).get("csrf_token"))
    return viewer


SignedForm = Annotated[dict[str, str], Depends(_signed_form)]
AnonymousForm = Annotated[dict[str, str], Depends(_anonymous_form)]
FORM_TOKEN_CHECKED = Depends(_anonymous_form)
FormSender = Annotated[Viewer | None, Depends(_form_sender)]
