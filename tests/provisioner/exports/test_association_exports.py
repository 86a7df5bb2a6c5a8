"""Asking for an export of a whole association: its admins and operators only, another association sees
nothing, and one is made per association at a time, held by the database when requests come at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor, Role
from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.errors import Conflict, Forbidden, NotFound
from provisioner.exports.association import request_association_export
from provisioner.exports.service import Requested, get_export
from provisioner.models import Export, Job, Tenant
from provisioner.offboarding.service import request_offboarding
from tests.support import factories
from tests.support.offboarding import export_or_offboarding_went_through
from tests.support.races import at_once


def _ask(session: Session, actor: Actor, tenant_id: str) -> Requested:
    return request_association_export(session, actor=actor, catalog=factories.CATALOG, tenant_id=tenant_id)


def _tenant(db_url: str) -> str:
    with session_factory(db_url)() as session:
        tenant_id = factories.tenant(session).id
        session.commit()
        return tenant_id


def test_an_admin_asks_and_gets_a_queued_export_of_the_association_with_its_job(db_url: str) -> None:
    tenant_id = _tenant(db_url)
    with session_factory(db_url)() as session:
        admin = factories.admin_of(session.get_one(Tenant, tenant_id))
        requested = _ask(session, admin, tenant_id)
        session.commit()
        assert (requested.job.kind, requested.job.status) == ("association_export", "queued")
        assert (requested.job.instance_id, requested.job.tenant_id) == (None, tenant_id)
        assert (requested.export.instance_id, requested.export.tenant_id) == (None, tenant_id)
        assert get_export(session, actor=admin, export_id=requested.export.id).state == "queued"
        with pytest.raises(Conflict, match="whole association is being made already"):
            _ask(session, admin, tenant_id)


def test_a_member_may_not_ask_another_association_sees_nothing_and_operators_may(db_url: str) -> None:
    tenant_id = _tenant(db_url)
    with session_factory(db_url)() as session:
        with pytest.raises(Forbidden):
            _ask(session, Actor(token_id="member", role=Role.MEMBER, tenant_id=tenant_id), tenant_id)
        other = factories.admin_of(factories.tenant(session, "verein-b"))
        with pytest.raises(NotFound, match="tenant not found"):
            _ask(session, other, tenant_id)
        requested = _ask(session, factories.OPERATOR, tenant_id)
        with pytest.raises(NotFound, match="export not found"):
            get_export(session, actor=other, export_id=requested.export.id)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_requests_at_the_same_moment_make_one_association_export(db_url: str) -> None:
    """All find none being made; the partial unique index lets one through (a connection each)."""
    tenant_id = _tenant(db_url)

    def ask(_n: int, session: Session) -> Requested:
        return _ask(session, factories.admin_of(session.get_one(Tenant, tenant_id)), tenant_id)

    outcomes = at_once(db_url, 4, ask)
    assert sum(isinstance(o, Requested) for o in outcomes) == 1
    assert all(isinstance(o, (Conflict, Requested)) for o in outcomes)
    with session_factory(db_url)() as session:
        assert len(session.scalars(select(Export)).all()) == 1
        # The losers' jobs went with their transactions: no job waits without its export.
        assert len(session.scalars(select(Job)).all()) == 1


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_an_export_and_an_offboarding_asked_for_at_the_same_moment_do_not_both_go_through(
    db_url: str, tmp_path: Path
) -> None:
    """Both hold the association's row first: the later one sees the earlier one's export job (an
    offboarding waits for no job under way) or its offboarding (no export while it leaves)."""
    tenant_id = _tenant(db_url)
    settings = Settings(data_dir=tmp_path, database_url=db_url)

    def ask(n: int, session: Session) -> object:
        if n == 0:
            return _ask(session, factories.admin_of(session.get_one(Tenant, tenant_id)), tenant_id)
        return request_offboarding(
            session,
            settings,
            actor=factories.OPERATOR,
            tenant_id=tenant_id,
            confirm_slug="verein-a",
            delete_backups_now=False,
        )

    export_or_offboarding_went_through(db_url, at_once(db_url, 2, ask))
