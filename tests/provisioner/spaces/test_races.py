"""Guarantees that hold when requests arrive at the same moment, on SQLite and on PostgreSQL: the first
admin of a space is shown once, approvals at once share one new shared instance, and changes of a
space's limits at once make one job."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import select, update

from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.errors import Conflict
from provisioner.instances.credentials import CredentialsGone
from provisioner.models import Instance, Job, Space
from provisioner.spaces.credentials import reveal_space_admin
from provisioner.spaces.placement import lab_tenant
from provisioner.spaces.quota import change_space_quota
from provisioner.spaces.service import approve_space
from tests.support import factories
from tests.support.spaces import approved_space, offer_shared, requested_space

RACERS = 6


def test_the_first_admin_read_at_once_by_several_requests_is_shown_once(db_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=db_url)
    with session_factory(db_url)() as session:
        factories.server(session)
        owner = factories.tenant(session)
        offer_shared(session)
        space, _ = approved_space(session, settings, owner)
        session.commit()
        space_id, admin = space.id, factories.admin_of(owner)
    start = threading.Barrier(RACERS)

    def reveal() -> str:
        with session_factory(db_url)() as session:
            row = session.get_one(Space, space_id)
            start.wait()
            try:
                shown = reveal_space_admin(session, settings, actor=admin, space=row)
                session.commit()
            except CredentialsGone:
                return "gone"
            return shown.password

    with ThreadPoolExecutor(RACERS) as pool:
        outcomes = list(pool.map(lambda _: reveal(), range(RACERS)))
    assert outcomes.count("gone") == RACERS - 1
    assert len(next(o for o in outcomes if o != "gone")) == 24


def test_approvals_at_once_make_one_shared_instance_for_all(db_url: str, tmp_path: Path) -> None:
    """The server takes one shared WordPress only (memory): without the placements held, each approval
    would see no shared instance and try to make its own, and all but one would be refused."""
    settings = Settings(data_dir=tmp_path, database_url=db_url)
    with session_factory(db_url)() as session:
        factories.server(session, memory_mb=600)
        offer_shared(session)
        lab_tenant(session, settings)  # made before, as in a lab that had shared instances
        spaces = [
            requested_space(session, factories.tenant(session, f"verein-{n}")).id for n in range(RACERS)
        ]
        session.commit()
    start = threading.Barrier(RACERS)

    def approve(space_id: str) -> str:
        with session_factory(db_url)() as session:
            start.wait()
            job = approve_space(
                session,
                actor=factories.OPERATOR,
                catalog=factories.CATALOG,
                space_id=space_id,
                settings=settings,
            )
            session.commit()
            return job.instance_id

    with ThreadPoolExecutor(RACERS) as pool:
        placed_in = set(pool.map(approve, spaces))
    assert len(placed_in) == 1
    with session_factory(db_url)() as session:
        assert len(session.scalars(select(Instance).where(Instance.shared.is_(True))).all()) == 1


def test_a_named_server_gets_a_shared_instance_of_its_own(db_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=db_url)
    with session_factory(db_url)() as session:
        first_server, second_server = factories.server(session, "s1"), factories.server(session, "s2")
        offer_shared(session)
        space, _ = approved_space(session, settings, factories.tenant(session, "verein-a"))
        assert space.instance is not None
        # Automatic placement chose one; the other server, named, gets a shared instance of its own.
        other = second_server if space.instance.server_id == first_server.id else first_server
        named = requested_space(session, factories.tenant(session, "verein-b"))
        job = approve_space(
            session, actor=factories.OPERATOR, catalog=factories.CATALOG, space_id=named.id,
            server_id=other.id, settings=settings,
        )  # fmt: skip
        assert job.instance_id != space.instance_id
        assert job.subject.server_id == other.id


def test_limits_changed_at_once_by_several_operators_make_one_job(db_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=db_url)
    with session_factory(db_url)() as session:
        factories.server(session)
        offer_shared(session)
        space, _ = approved_space(session, settings, factories.tenant(session))
        space.state = "running"
        session.execute(update(Job).values(status="succeeded"))  # its making is done
        session.commit()
        space_id = space.id
    start = threading.Barrier(RACERS)

    def change(storage_mb: int) -> str:
        with session_factory(db_url)() as session:
            start.wait()
            try:
                job = change_space_quota(
                    session, actor=factories.OPERATOR, catalog=factories.CATALOG, space_id=space_id,
                    given={"storage_mb": storage_mb},
                ).job  # fmt: skip
            except Conflict:
                return "refused"
            session.commit()
            return job.id

    with ThreadPoolExecutor(RACERS) as pool:
        outcomes = list(pool.map(change, range(100, 100 + RACERS)))
    assert outcomes.count("refused") == RACERS - 1
    with session_factory(db_url)() as session:
        changes = session.scalars(select(Job).where(Job.kind == "space_quota")).all()
        assert [j.id for j in changes] == [o for o in outcomes if o != "refused"]
