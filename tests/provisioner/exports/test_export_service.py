"""Who may ask for an export and download it, in which states, one at a time per service (held by the
database when two requests come at once), none while its association is offboarded, and archives
deleted when they expire or are replaced."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor, Role
from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.errors import Conflict, Forbidden, Gone, NotFound
from provisioner.exports import service
from provisioner.instances.service import set_state
from provisioner.instances.states import InstanceState
from provisioner.jobs.service import create_job
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.models import Export, Instance, Job, Offboarding, Tenant
from provisioner.offboarding.service import request_offboarding
from provisioner.timeutil import utcnow
from tests.support import factories
from tests.support.offboarding import export_or_offboarding_went_through
from tests.support.races import at_once

S = InstanceState


def _running(db_url: str) -> tuple[str, str]:
    approved = factories.approved_homepage(db_url)
    with session_factory(db_url)() as session:
        instance = session.get_one(Instance, approved.instance_id)
        set_state(instance, S.PROVISIONING)
        set_state(instance, S.RUNNING)
        instance.lock_job_id = None
        session.commit()
    return approved.tenant_id, approved.instance_id


def _admin(session: Session, tenant_id: str) -> Actor:
    return factories.admin_of(session.get_one(Tenant, tenant_id))


def _ask(session: Session, actor: Actor, instance_id: str) -> service.Requested:
    return service.request_export(session, actor=actor, catalog=factories.CATALOG, instance_id=instance_id)


def test_an_admin_asks_and_gets_a_queued_export_with_its_job(db_url: str) -> None:
    tenant_id, instance_id = _running(db_url)
    with session_factory(db_url)() as session:
        requested = _ask(session, _admin(session, tenant_id), instance_id)
        session.commit()
        assert (requested.job.kind, requested.job.status) == ("export", "queued")
        assert (requested.export.state, requested.export.job_id) == ("queued", requested.job.id)
        assert requested.export.tenant_id == tenant_id
        # Another export of the same service waits until this one is done.
        with pytest.raises(Conflict, match="being made already"):
            _ask(session, _admin(session, tenant_id), instance_id)


def test_a_member_may_not_ask_and_another_association_sees_nothing(db_url: str) -> None:
    tenant_id, instance_id = _running(db_url)
    with session_factory(db_url)() as session:
        member = Actor(token_id="member", role=Role.MEMBER, tenant_id=tenant_id)
        with pytest.raises(Forbidden):
            _ask(session, member, instance_id)
        other = factories.tenant(session, "verein-b")
        with pytest.raises(NotFound, match="instance not found"):
            _ask(session, factories.admin_of(other), instance_id)


@pytest.mark.parametrize(
    ("states", "message"),
    [([S.FAILED], "the service is failed"), ([S.UPDATING], "the service is updating")],
)
def test_only_a_running_service_is_exported(db_url: str, states: list[S], message: str) -> None:
    tenant_id, instance_id = _running(db_url)
    with session_factory(db_url)() as session:
        instance = session.get_one(Instance, instance_id)
        for state in states:
            set_state(instance, state)
        with pytest.raises(Conflict, match=message):
            _ask(session, _admin(session, tenant_id), instance_id)


def test_a_service_about_to_be_removed_is_not_exported(db_url: str) -> None:
    tenant_id, instance_id = _running(db_url)
    with session_factory(db_url)() as session:
        create_job(session, instance=session.get_one(Instance, instance_id), kind=JobKind.REMOVE)
        with pytest.raises(Conflict, match="about to be removed"):
            _ask(session, _admin(session, tenant_id), instance_id)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_requests_at_the_same_moment_make_one_export(db_url: str) -> None:
    """All find none running; the partial unique index lets one through (PostgreSQL, a connection each)."""
    pg_url = db_url
    tenant_id, instance_id = _running(pg_url)

    def ask(_n: int, session: Session) -> service.Requested:
        return _ask(session, _admin(session, tenant_id), instance_id)

    outcomes = at_once(pg_url, 4, ask)
    assert sum(isinstance(o, service.Requested) for o in outcomes) == 1
    assert all(isinstance(o, (Conflict, service.Requested)) for o in outcomes)
    with session_factory(pg_url)() as session:
        assert len(session.scalars(select(Export)).all()) == 1


def _deployed(db_url: str) -> tuple[str, str]:
    """A running service whose deploy job ended, so an operator's offboarding may start at once."""
    tenant_id, instance_id = _running(db_url)
    with session_factory(db_url)() as session:
        session.execute(update(Job).values(status=JobStatus.SUCCEEDED.value))
        session.commit()
    return tenant_id, instance_id


def _offboard(session: Session, settings: Settings, *, tenant_id: str, actor: Actor) -> Offboarding:
    return request_offboarding(
        session, settings, actor=actor, tenant_id=tenant_id, confirm_slug="verein-a", delete_backups_now=False
    )


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ("waiting", "its data is deleted from .* UTC unless it is canceled"),
        ("running", "its services and data are being deleted"),
        ("retaining", "its services and data are being deleted"),
    ],
)
def test_no_export_of_a_service_while_its_association_is_offboarded(
    db_url: str, tmp_path: Path, state: str, message: str
) -> None:
    """Waiting out the lab's period, under way, or keeping its backups for the lab's retention."""
    tenant_id, instance_id = _deployed(db_url)
    settings = Settings(data_dir=tmp_path)
    with session_factory(db_url)() as session:
        _offboard(session, settings, tenant_id=tenant_id, actor=factories.OPERATOR).state = state
        session.commit()
        with pytest.raises(Conflict, match=f"an export is not possible: the association verein-a is being "
                                           f"offboarded \\({message}\\)"):  # fmt: skip
            _ask(session, _admin(session, tenant_id), instance_id)
        assert session.scalars(select(Export)).all() == []


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_an_export_of_a_service_and_an_offboarding_at_the_same_moment_do_not_both_go_through(
    db_url: str, tmp_path: Path
) -> None:
    """Both hold the association's row first: the later one sees the export's job (an offboarding that
    starts now waits for none under way) or the offboarding (no export while it leaves)."""
    tenant_id, instance_id = _deployed(db_url)
    settings = Settings(data_dir=tmp_path, database_url=db_url)

    def ask(n: int, session: Session) -> object:
        if n == 0:
            return _ask(session, _admin(session, tenant_id), instance_id)
        return _offboard(session, settings, tenant_id=tenant_id, actor=factories.OPERATOR)

    export_or_offboarding_went_through(db_url, at_once(db_url, 2, ask))


def _ready(db_url: str, settings: Settings, *, expires_in: timedelta) -> tuple[str, str, Path]:
    tenant_id, instance_id = _running(db_url)
    with session_factory(db_url)() as session:
        export = _ask(session, _admin(session, tenant_id), instance_id).export
        settings.resolved_exports_dir.mkdir(parents=True, exist_ok=True)
        export.file = f"{export.id}.tar.gz.sealed"
        (settings.resolved_exports_dir / export.file).write_bytes(b"sealed")
        export.state, export.expires_at = "ready", utcnow() + expires_in
        session.commit()
        return tenant_id, export.id, settings.resolved_exports_dir / export.file


def test_only_its_admins_and_operators_download_it_while_it_lasts(db_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    tenant_id, export_id, path = _ready(db_url, settings, expires_in=timedelta(hours=1))
    with session_factory(db_url)() as session:
        for actor in (_admin(session, tenant_id), factories.OPERATOR):
            assert service.downloadable(session, settings, actor=actor, export_id=export_id)[1] == path
        member = Actor(token_id="member", role=Role.MEMBER, tenant_id=tenant_id)
        assert service.get_export(session, actor=member, export_id=export_id).id == export_id
        with pytest.raises(Forbidden):
            service.downloadable(session, settings, actor=member, export_id=export_id)
        other = factories.admin_of(factories.tenant(session, "verein-b"))
        for look in (service.get_export, service.downloadable):
            with pytest.raises(NotFound, match="export not found"):
                look(session, **({"settings": settings} if look is service.downloadable else {}),
                     actor=other, export_id=export_id)  # fmt: skip


def test_after_its_expiry_the_link_answers_gone_and_the_sweep_deletes_it(db_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    tenant_id, export_id, path = _ready(db_url, settings, expires_in=timedelta(seconds=-1))
    with session_factory(db_url)() as session:
        with pytest.raises(Gone, match="expired"):
            service.downloadable(session, settings, actor=_admin(session, tenant_id), export_id=export_id)
        assert service.expire_exports(session, settings) == 1
        session.commit()
        assert not path.exists()
        export = session.get_one(Export, export_id)
        assert (export.state, export.file) == ("expired", None)
        assert service.expire_exports(session, settings) == 0
        with pytest.raises(Gone):
            service.downloadable(session, settings, actor=_admin(session, tenant_id), export_id=export_id)


def test_the_sweep_removes_what_ended_exports_left_and_keeps_the_rest(db_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    _, ready_id, ready_file = _ready(db_url, settings, expires_in=timedelta(hours=1))
    folder = settings.resolved_exports_dir
    with session_factory(db_url)() as session:
        ended = session.get_one(Export, ready_id)
        lost = Export(tenant_id=ended.tenant_id, instance_id=ended.instance_id, state="failed")
        session.add(lost)
        session.flush()
        (folder / f"work-{lost.id}" / "restored").mkdir(parents=True)
        (folder / f"{lost.id}.part").write_bytes(b"half")
        running = Export(tenant_id=ended.tenant_id, instance_id=ended.instance_id, state="running")
        session.add(running)
        session.flush()
        (folder / f"work-{running.id}").mkdir()
        session.commit()
        assert service.expire_exports(session, settings) == 0
        session.commit()
        assert sorted(p.name for p in folder.iterdir()) == sorted([ready_file.name, f"work-{running.id}"])
