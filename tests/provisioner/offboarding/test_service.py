"""Who may offboard an association and how: the slug typed to confirm, an admin's waiting period and
cancel, an operator's at once (409 while a job of the association runs), one at a time (held by the
database when two come at once), and nothing new for an association that is leaving."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from provisioner.auth.actor import Actor, Role
from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.errors import Conflict, Forbidden, InvalidInput, NotFound
from provisioner.exports.service import request_export
from provisioner.instances.service import request_instance
from provisioner.jobs.states import JobKind
from provisioner.models import Instance, Job, Offboarding, OutgoingNotice, Tenant
from provisioner.offboarding import service
from provisioner.tenants.leaving import TenantLeaving
from provisioner.tenants.service import issue_tenant_token
from provisioner.timeutil import utcnow
from tests.support import factories
from tests.support.offboarding import offboarded_record


def _tenant(db_url: str) -> str:
    with session_factory(db_url)() as session:
        tenant_id = factories.tenant(session, "verein-x").id
        session.commit()
    return tenant_id


def _ask(db_url: str, actor: Actor, tenant_id: str, *, confirm: str = "verein-x") -> Offboarding:
    with session_factory(db_url)() as session:
        found = service.request_offboarding(
            session,
            Settings(offboarding_wait_hours=48),
            actor=actor,
            tenant_id=tenant_id,
            confirm_slug=confirm,
            delete_backups_now=False,
        )
        session.commit()
        return found


def _admin(tenant_id: str) -> Actor:
    return Actor(token_id="tok_admin", role=Role.ADMIN, tenant_id=tenant_id)


def test_an_admin_confirms_with_the_slug_and_waits_and_may_cancel(db_url: str) -> None:
    tenant_id = _tenant(db_url)
    with pytest.raises(InvalidInput) as refused:
        _ask(db_url, _admin(tenant_id), tenant_id, confirm="verein")
    assert refused.value.errors == [{"field": "body.confirm", "message": "must be 'verein-x'"}]
    member = Actor(token_id="tok_m", role=Role.MEMBER, tenant_id=tenant_id)
    with pytest.raises(Forbidden):
        _ask(db_url, member, tenant_id)
    other = _tenant_other(db_url)
    with pytest.raises(NotFound):
        _ask(db_url, _admin(other), tenant_id)

    asked = _ask(db_url, _admin(tenant_id), tenant_id)

    assert asked.state == "waiting"
    assert timedelta(hours=47) < asked.not_before - utcnow() <= timedelta(hours=48)
    with session_factory(db_url)() as session:
        assert session.scalars(select(Job)).all() == []  # nothing runs while it waits
        assert service.start_due(session) == []
        # Others hear of it while it may be canceled: its admins (here its contact: it has no admin
        # account) and the lab's operators.
        told = session.scalars(select(OutgoingNotice).where(OutgoingNotice.kind == "offboarding_asked")).all()
        assert sorted(n.recipient for n in told) == ["a@verein-x.org", "operators"]
        assert {n.values["offboarding_id"] for n in told} == {asked.id}
        with pytest.raises(Conflict, match="being offboarded already"):
            _ask(db_url, factories.OPERATOR, tenant_id)
        canceled = service.cancel_offboarding(session, actor=_admin(tenant_id), tenant_id=tenant_id)
        assert (canceled.state, canceled.canceled_by) == ("canceled", "tok_admin")
        session.commit()
    # Canceled: the association takes new things again, and may be offboarded again.
    _ask(db_url, factories.OPERATOR, tenant_id)


def _tenant_other(db_url: str) -> str:
    with session_factory(db_url)() as session:
        tenant_id = factories.tenant(session, "verein-o").id
        session.commit()
    return tenant_id


def test_an_operators_offboarding_starts_at_once_unless_a_job_of_the_association_runs(db_url: str) -> None:
    approved = factories.approved_homepage(db_url)  # its deploy is queued
    with session_factory(db_url)() as session:
        slug = session.get_one(Tenant, approved.tenant_id).slug
    with pytest.raises(Conflict, match=r"1 job\(s\) of the association are under way \(deploy job_"):
        _ask(db_url, factories.OPERATOR, approved.tenant_id, confirm=slug)
    with session_factory(db_url)() as session:
        session.get_one(Job, approved.job_id).status = "succeeded"
        session.commit()

    asked = _ask(db_url, factories.OPERATOR, approved.tenant_id, confirm=slug)

    with session_factory(db_url)() as session:
        job = session.scalars(select(Job).where(Job.offboarding_id == asked.id)).one()
        assert (job.kind, job.status, job.instance_id) == ("offboard", "queued", None)


def test_an_association_being_offboarded_takes_nothing_new(db_url: str) -> None:
    approved = factories.approved_homepage(db_url)
    with session_factory(db_url)() as session:
        tenant = session.get_one(Tenant, approved.tenant_id)
        session.get_one(Job, approved.job_id).status = "succeeded"
        instance = session.get_one(Instance, approved.instance_id)
        instance.state, instance.lock_job_id = "running", None
        session.commit()
        slug, tenant_id = tenant.slug, tenant.id
    _ask(db_url, _admin(tenant_id), tenant_id, confirm=slug)
    admin = _admin(tenant_id)
    with session_factory(db_url)() as session:
        for attempt in (
            lambda: request_instance(
                session,
                actor=admin,
                catalog=factories.CATALOG,
                template="homepage",
                name="more",
                parameters={"title": "x"},
                tenant_id=None,
            ),
            lambda: request_export(
                session, actor=admin, catalog=factories.CATALOG, instance_id=approved.instance_id
            ),
            lambda: issue_tenant_token(session, actor=admin, tenant_id=tenant_id, role=Role.ADMIN, name="t"),
        ):
            with pytest.raises(
                TenantLeaving, match=rf"the association {slug} is being offboarded \(its data"
            ):
                attempt()
            session.rollback()


def test_the_deletion_record_is_for_operators_once_it_is_done(db_url: str) -> None:
    tenant_id = _tenant(db_url)
    _ask(db_url, factories.OPERATOR, tenant_id)
    with session_factory(db_url)() as session:
        with pytest.raises(NotFound, match="its record is written when done"):
            service.deletion_record(session, actor=factories.OPERATOR, tenant_id=tenant_id)
        with pytest.raises(Forbidden):
            service.deletion_record(session, actor=_admin(tenant_id), tenant_id=tenant_id)
        service.get_offboarding(session, actor=factories.OPERATOR, tenant_id=tenant_id).state = "running"
        with pytest.raises(Conflict, match="only one still waiting can be canceled"):
            service.cancel_offboarding(session, actor=factories.OPERATOR, tenant_id=tenant_id)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_offboardings_at_the_same_moment_make_one(db_url: str) -> None:
    """All find none under way; the tenant's row (and the partial unique index) lets one through."""
    tenant_id = _tenant(db_url)
    start = threading.Barrier(4)
    outcomes: list[object] = [None] * 4

    def one(n: int) -> None:
        start.wait()
        try:
            outcomes[n] = _ask(db_url, factories.OPERATOR, tenant_id)
        except Conflict as exc:
            outcomes[n] = exc

    threads = [threading.Thread(target=one, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(o, Offboarding) for o in outcomes) == 1
    assert all(isinstance(o, (Conflict, Offboarding)) for o in outcomes)
    with session_factory(db_url)() as session:
        assert len(session.scalars(select(Offboarding)).all()) == 1
        assert len(session.scalars(select(Job).where(Job.kind == JobKind.OFFBOARD.value)).all()) == 1


def test_an_admin_may_ask_while_it_waits_for_the_backups_to_go_with_the_rest(db_url: str) -> None:
    tenant_id = _tenant(db_url)
    _ask(db_url, _admin(tenant_id), tenant_id)
    with session_factory(db_url)() as session:
        member = Actor(token_id="tok_m", role=Role.MEMBER, tenant_id=tenant_id)
        with pytest.raises(Forbidden):
            service.delete_backups_now(session, actor=member, tenant_id=tenant_id)
        other = Actor(token_id="tok_o", role=Role.ADMIN, tenant_id="ten_other")
        with pytest.raises(NotFound):
            service.delete_backups_now(session, actor=other, tenant_id=tenant_id)
        found, job = service.delete_backups_now(session, actor=_admin(tenant_id), tenant_id=tenant_id)
        session.commit()
        # Nothing starts earlier: the job, after the wait, deletes them with the rest.
        assert (found.state, found.delete_backups_now, found.backups_due_at, job) == (
            "waiting",
            True,
            None,
            None,
        )
        assert session.scalars(select(Job)).all() == []


def test_the_deletion_records_are_listed_for_operators_the_latest_first(db_url: str) -> None:
    with session_factory(db_url)() as session:
        older = offboarded_record(session)
        newer = offboarded_record(session)
        newer.completed_at = utcnow()
        waiting = factories.tenant(session, "verein-w")
        session.commit()
        assert [r.id for r in service.deletion_records(session, actor=factories.OPERATOR)] == [
            newer.id,
            older.id,
        ]
        with pytest.raises(Forbidden):
            service.deletion_records(session, actor=_admin(waiting.id))


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_backups_asked_to_go_now_twice_at_once_get_one_job(db_url: str) -> None:
    """Each request holds the offboarding's row: the second finds the first's job under way."""
    tenant_id = _tenant(db_url)
    asked = _ask(db_url, _admin(tenant_id), tenant_id)
    with session_factory(db_url)() as session:
        kept = session.get_one(Offboarding, asked.id)
        kept.state, kept.backups_due_at = "retaining", utcnow() + timedelta(days=30)
        session.commit()
    start = threading.Barrier(4)
    made: list[object] = [None] * 4

    def one(n: int) -> None:
        start.wait()
        with session_factory(db_url)() as session:
            made[n] = service.delete_backups_now(session, actor=factories.OPERATOR, tenant_id=tenant_id)[1]
            session.commit()

    threads = [threading.Thread(target=one, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(job is not None for job in made) == 1
    with session_factory(db_url)() as session:
        assert len(session.scalars(select(Job).where(Job.offboarding_id == asked.id)).all()) == 1
        assert service.start_due(session) == []  # the sweep leaves it to that job
