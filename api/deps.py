"""Dependencies, declared once as ``Annotated`` aliases."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

import anyio
from fastapi import Depends, Query, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.audit.middleware import remember_actor
from provisioner.accounts import ratelimit
from provisioner.accounts.sessions import SESSION_COOKIE, resolve_session
from provisioner.auth.actor import Actor
from provisioner.auth.tokens import authenticate
from provisioner.catalog.loader import Catalog
from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.errors import Forbidden, Unauthorized
from provisioner.models import WebSession
from provisioner.pagination import MAX_LIMIT
from provisioner.worker.dispatch import CeleryDispatcher


# The app's own objects: read in the event loop (``async``), since a plain function would be run in a
# worker thread, a thread hop for every request.
async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _catalog(request: Request) -> Catalog:
    catalog: Catalog = request.app.state.catalog
    return catalog


async def _dispatcher(request: Request) -> CeleryDispatcher:
    dispatcher: CeleryDispatcher = request.app.state.dispatcher
    return dispatcher


def _session(settings: Annotated[Settings, Depends(_settings)]) -> Iterator[Session]:
    session = session_factory(settings.resolved_database_url)()
    try:
        yield session
    finally:
        session.close()


SettingsDep = Annotated[Settings, Depends(_settings)]
CatalogDep = Annotated[Catalog, Depends(_catalog)]
DispatcherDep = Annotated[CeleryDispatcher, Depends(_dispatcher)]
SessionDep = Annotated[Session, Depends(_session)]


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def require_csrf(web_session: WebSession, submitted: str | None) -> None:
    """Refuses a cookie-authenticated change that does not carry the session's CSRF token."""
    if not submitted or not hmac.compare_digest(submitted.encode(), web_session.csrf_token.encode()):
        raise Forbidden("the CSRF token is missing or wrong; reload the page and try again")


# How a slowed-down login waits: in the event loop, so that no thread waits with it.
pause = anyio.sleep


async def wait_out_failed_logins(session: Session, email: str) -> None:
    """Slows a login for an address that had many failed ones lately (see ``ratelimit.login_delay``)."""
    delay = await run_in_threadpool(lambda: ratelimit.login_delay(session, email=email))
    if delay > 0:
        await pause(delay)


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


# Declared as a security scheme so that the OpenAPI document (and its "Authorize" button) knows it; the
# header is read below, so that a wrong scheme gets an answer that says what to send.
BEARER = HTTPBearer(
    auto_error=False,
    description="An API token (prv_…), made by an operator or an association's admin. "
    "The portal signs in with a session cookie instead.",
)


def _actor(
    request: Request,
    session: SessionDep,
    _scheme: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)],
) -> Actor:
    """A bearer token, or else the portal's session cookie (then changes need the X-CSRF-Token header)."""
    if (authorization := request.headers.get("authorization")) is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("send 'Authorization: Bearer <token>'")
        actor = authenticate(session, token=token.strip())
    elif cookie := request.cookies.get(SESSION_COOKIE):
        resolved = resolve_session(session, cookie=cookie)
        if resolved is None:
            session.commit()  # forgets the ended session
            raise Unauthorized("the session has ended; log in again")
        actor, web_session = resolved
        if request.method not in SAFE_METHODS:
            require_csrf(web_session, request.headers.get("x-csrf-token"))
    else:
        raise Unauthorized("send 'Authorization: Bearer <token>' or log in")
    if session.dirty:
        session.commit()  # keeps last_used_at / last_seen_at (at most once a minute: mostly nothing to keep)
    remember_actor(request.scope.setdefault("state", {}), actor)
    return actor


ActorDep = Annotated[Actor, Depends(_actor)]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
CursorQuery = Annotated[str | None, Query(max_length=200)]
