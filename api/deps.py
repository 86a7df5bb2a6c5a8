"""Dependencies, declared once as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from sqlalchemy.orm import Session

from api.audit import remember_actor
from provisioner.auth.actor import Actor
from provisioner.auth.tokens import authenticate
from provisioner.catalog.loader import Catalog
from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.errors import Unauthorized
from provisioner.pagination import MAX_LIMIT
from provisioner.worker.dispatch import CeleryDispatcher


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _catalog(request: Request) -> Catalog:
    catalog: Catalog = request.app.state.catalog
    return catalog


def _dispatcher(request: Request) -> CeleryDispatcher:
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


def _actor(
    request: Request, session: SessionDep, authorization: Annotated[str | None, Header()] = None
) -> Actor:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send 'Authorization: Bearer <token>'")
    actor = authenticate(session, token=token.strip())
    session.commit()  # keeps last_used_at
    remember_actor(request.scope.setdefault("state", {}), actor)
    return actor


ActorDep = Annotated[Actor, Depends(_actor)]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
CursorQuery = Annotated[str | None, Query(max_length=200)]
