"""Asking for an export of one space: its association's admins and operators only, another association
sees nothing, a space that does not run or whose service cannot take its data apart is refused with the
reason, and one export is made per space at a time, held by the database when requests come at once."""

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
from provisioner.exports.space import request_space_export, space_exports
from provisioner.models import Export, Job, Space, Tenant
from provisioner.offboarding.service import request_offboarding
from tests.support import factories
from tests.support.offboarding import export_or_offboarding_went_through
from tests.support.races import at_once
from tests.support.spaces import approved_space, inseparable_space, offer_shared


def _ask(session: Session, actor: Actor, space_id: str) -> Requested:
    return request_space_export(session, actor=actor, catalog=factories.CATALOG, space_id=space_id)


def _running_space(db_url: str, tmp_path: Path) -> str:
    """A WordPress space running in the lab's shared instance, and a backup target to back it up to."""
    settings = Settings(data_dir=tmp_path, database_url=db_url)
    with session_factory(db_url)() as session:
        factories.server(session)
        factories.sftp_target(session, settings, "lab")
        offer_shared(session)
        space, _ = approved_space(session, settings, factories.tenant(session))
        space.state = "running"
        assert space.instance is not None
        space.instance.state = "running"
        session.commit()
        return space.id


def _admin(session: Session, space_id: str) -> Actor:
    return factories.admin_of(session.get_one(Space, space_id).tenant)


def test_an_admin_asks_and_gets_a_queued_export_of_the_space_with_its_job(
    db_url: str, tmp_path: Path
) -> None:
    space_id = _running_space(db_url, tmp_path)
    with session_factory(db_url)() as session:
        admin = _admin(session, space_id)
        requested = _ask(session, admin, space_id)
        session.commit()
        space = session.get_one(Space, space_id)
        job, export = requested.job, requested.export
        assert (job.kind, job.status, job.space_id, job.instance_id) == (
            "space_export",
            "queued",
            space_id,
            space.instance_id,  # a job on the shared instance: it waits for the instance's other work
        )
        assert (export.space_id, export.instance_id, export.tenant_id) == (space_id, None, space.tenant_id)
        assert get_export(session, actor=admin, export_id=export.id).state == "queued"
        assert [e.id for e in space_exports(session, actor=admin, space_id=space_id)] == [export.id]
        with pytest.raises(Conflict, match="an export of this space is being made already"):
            _ask(session, factories.OPERATOR, space_id)
        # The whole association's export is another one: it may be asked for meanwhile.
        whole = request_association_export(
            session, actor=admin, catalog=factories.CATALOG, tenant_id=space.tenant_id
        )
        assert (whole.export.space_id, whole.export.instance_id) == (None, None)


def test_a_member_may_not_ask_another_association_sees_nothing_and_operators_may(
    db_url: str, tmp_path: Path
) -> None:
    space_id = _running_space(db_url, tmp_path)
    with session_factory(db_url)() as session:
        tenant_id = session.get_one(Space, space_id).tenant_id
        with pytest.raises(Forbidden):
            _ask(session, Actor(token_id="member", role=Role.MEMBER, tenant_id=tenant_id), space_id)
        other = factories.admin_of(factories.tenant(session, "verein-b"))
        with pytest.raises(NotFound, match="space not found"):
            _ask(session, other, space_id)
        requested = _ask(session, factories.OPERATOR, space_id)
        with pytest.raises(NotFound, match="export not found"):
            get_export(session, actor=other, export_id=requested.export.id)


def test_a_space_that_does_not_run_or_cannot_be_taken_apart_is_refused_with_the_reason(
    db_url: str, tmp_path: Path
) -> None:
    space_id = _running_space(db_url, tmp_path)
    with session_factory(db_url)() as session:
        space = session.get_one(Space, space_id)
        admin = _admin(session, space_id)
        # Nextcloud keeps every space's files and rows together: one cannot leave alone.
        cloud = inseparable_space(session, tenant_id=space.tenant_id, instance_id=space.instance_id)
        with pytest.raises(Conflict) as refused:
            _ask(session, admin, cloud.id)
        assert refused.value.detail == (
            "the nextcloud service cannot take one space's data apart from the others'; "
            "a space of it cannot be exported alone"
        )
        space.state = "failed"
        with pytest.raises(Conflict) as stopped:
            _ask(session, admin, space_id)
        assert stopped.value.detail == "the space is failed; only a running space can be exported"
        assert session.scalars(select(Export)).all() == []


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_requests_at_the_same_moment_make_one_space_export(db_url: str, tmp_path: Path) -> None:
    """All find none being made; the partial unique index lets one through (a connection each)."""
    space_id = _running_space(db_url, tmp_path)
    with session_factory(db_url)() as session:
        jobs_before = len(session.scalars(select(Job)).all())

    def ask(_n: int, session: Session) -> Requested:
        return _ask(session, _admin(session, space_id), space_id)

    outcomes = at_once(db_url, 4, ask)
    assert sum(isinstance(o, Requested) for o in outcomes) == 1
    assert all(isinstance(o, (Conflict, Requested)) for o in outcomes)
    with session_factory(db_url)() as session:
        assert len(session.scalars(select(Export)).all()) == 1
        # The losers' jobs went with their transactions: no job waits without its export.
        assert len(session.scalars(select(Job)).all()) == jobs_before + 1


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_space_export_and_an_offboarding_asked_for_at_the_same_moment_do_not_both_go_through(
    db_url: str, tmp_path: Path
) -> None:
    space_id = _running_space(db_url, tmp_path)
    settings = Settings(data_dir=tmp_path, database_url=db_url)
    with session_factory(db_url)() as session:
        tenant_id = session.get_one(Space, space_id).tenant_id
        slug = session.get_one(Tenant, tenant_id).slug

    def ask(n: int, session: Session) -> object:
        if n == 0:
            return _ask(session, _admin(session, space_id), space_id)
        return request_offboarding(
            session,
            settings,
            actor=factories.OPERATOR,
            tenant_id=tenant_id,
            confirm_slug=slug,
            delete_backups_now=False,
        )

    export_or_offboarding_went_through(db_url, at_once(db_url, 2, ask))
