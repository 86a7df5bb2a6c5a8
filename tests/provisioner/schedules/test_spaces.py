"""A shared instance's backup schedule backs up each of its running spaces alone, as a dedicated
instance's backs it up: once per slot, with a refusal told to the association and the operators, and
once only when two schedulers fire at the same moment (PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from provisioner.accounts.service import create_user
from provisioner.alerts import AlertKind
from provisioner.alerts.delivery import deliver_pending
from provisioner.auth.actor import Role
from provisioner.catalog.modes import set_modes
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.instances.states import InstanceState
from provisioner.jobs.states import JobKind
from provisioner.models import Alert, AuditEntry, Job, Schedule, Space
from provisioner.schedules.runner import run_due
from provisioner.schedules.service import ScheduleKind, create_schedule
from provisioner.spaces.service import approve_space, request_space
from provisioner.spaces.states import SpaceState
from provisioner.timeutil import utcnow
from tests.support import factories
from tests.support.running import unused_backup_target
from tests.support.smtp_sink import SmtpSink, plain_text, smtp_sink
from tests.support.spaces import approved_space, offer_shared, requested_space

CATALOG = factories.CATALOG
SCHEDULERS = 4


@dataclass(frozen=True)
class Lab:
    settings: Settings
    schedule_id: str
    shared_id: str
    spaces: tuple[str, str]  # verein-a's and verein-b's running spaces
    tenants: tuple[str, str]


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with smtp_sink() as running:
        yield running


def _lab(db_url: str, tmp_path: Path, sink: SmtpSink, *, with_target: bool = True) -> Lab:
    settings = Settings(
        data_dir=tmp_path,
        database_url=db_url,
        timezone="Europe/Berlin",
        smtp_host=sink.host,
        smtp_port=sink.port,
        alert_operator_emails="ops@lab.example",
        alert_digest_seconds=0,
    )
    with transaction(settings.resolved_database_url) as session:
        if with_target:
            unused_backup_target(session, settings)
        factories.server(session)
        offer_shared(session)
        owners = [factories.tenant(session, slug) for slug in ("verein-a", "verein-b")]
        spaces = [approved_space(session, settings, owner)[0] for owner in owners]
        # As their making leaves them: the shared instance and both spaces running.
        for space in spaces:
            space.state = SpaceState.RUNNING.value
            assert space.instance is not None
            space.instance.state = InstanceState.RUNNING.value
        session.execute(update(Job).values(status="succeeded"))
        requested_space(session, factories.tenant(session, "verein-c"))  # not approved: nothing to back up
        # verein-b's admin reads English; verein-a has no admin, so its contact address hears (German).
        create_user(session, email="kim@verein-b.org", name="Kim", password=None, role=Role.ADMIN,
                    tenant_id=owners[1].id).language = "en"  # fmt: skip
        schedule = create_schedule(
            session,
            actor=factories.OPERATOR,
            settings=settings,
            catalog=CATALOG,
            kind=ScheduleKind.BACKUP,
            instance_id=None,
            template="wordpress",
            cron="0 3 * * *",
            interval_seconds=None,
        )
        shared_id = spaces[0].instance_id
        assert shared_id is not None
        assert spaces[1].instance_id == shared_id
        return Lab(
            settings,
            schedule.id,
            shared_id,
            (spaces[0].id, spaces[1].id),
            (owners[0].id, owners[1].id),
        )


def _due(lab: Lab) -> None:
    with transaction(lab.settings.resolved_database_url) as session:
        session.execute(
            update(Schedule)
            .where(Schedule.id == lab.schedule_id)
            .values(next_run_at=utcnow() - timedelta(days=1))
        )


def _jobs(lab: Lab, kind: JobKind) -> list[Job]:
    with transaction(lab.settings.resolved_database_url) as session:
        query = select(Job).where(Job.kind == kind.value).order_by(Job.created_at, Job.id)
        rows = list(session.scalars(query).unique())
        session.expunge_all()
        return rows


def test_a_shared_instances_schedule_backs_up_each_running_space_alone_once_per_slot(
    db_url: str, tmp_path: Path, sink: SmtpSink
) -> None:
    lab = _lab(db_url, tmp_path, sink)
    _due(lab)
    due = run_due(lab.settings, CATALOG)

    spaces = _jobs(lab, JobKind.SPACE_BACKUP)
    assert sorted(j.space_id or "" for j in spaces) == sorted(lab.spaces)
    assert all(j.instance_id == lab.shared_id and j.requested_by == "system" for j in spaces)
    # The shared instance's own backup (the lab's, for a disaster) is taken beside them.
    [whole] = _jobs(lab, JobKind.BACKUP)
    assert whole.instance_id == lab.shared_id
    assert sorted(due.job_ids) == sorted([whole.id, *(j.id for j in spaces)])
    with transaction(lab.settings.resolved_database_url) as session:
        audited = {
            (e.tenant_id, e.target_id, e.action, e.outcome)
            for e in session.scalars(select(AuditEntry)).all()
            if e.target_id in {j.id for j in spaces}
        }
        # On each association's own audit log, as its services' scheduled backups are.
        owner = dict(zip(lab.spaces, lab.tenants, strict=True))
        assert audited == {(owner[j.space_id or ""], j.id, "scheduled backup", "success") for j in spaces}

    # The next slot while they still wait: none is doubled.
    _due(lab)
    assert run_due(lab.settings, CATALOG).job_ids == []
    assert len(_jobs(lab, JobKind.SPACE_BACKUP)) == 2


def test_a_space_not_running_is_not_backed_up_and_its_own_backup_waiting_is_not_doubled(
    db_url: str, tmp_path: Path, sink: SmtpSink
) -> None:
    lab = _lab(db_url, tmp_path, sink)
    a, b = lab.spaces
    with transaction(lab.settings.resolved_database_url) as session:
        session.get_one(Space, b).state = SpaceState.FAILED.value
    _due(lab)
    run_due(lab.settings, CATALOG)
    assert [j.space_id for j in _jobs(lab, JobKind.SPACE_BACKUP)] == [a]


def test_a_space_backup_that_cannot_start_tells_its_association_and_the_operators(
    db_url: str, tmp_path: Path, sink: SmtpSink
) -> None:
    lab = _lab(db_url, tmp_path, sink, with_target=False)
    _due(lab)
    due = run_due(lab.settings, CATALOG)
    assert due.job_ids == []
    with transaction(lab.settings.resolved_database_url) as session:
        alerts = session.scalars(
            select(Alert).where(Alert.kind == AlertKind.SPACE_BACKUP_FAILED.value).order_by(Alert.subject_id)
        ).all()
        assert sorted((a.subject_id, a.tenant_id) for a in alerts) == sorted(
            zip(lab.spaces, lab.tenants, strict=True)
        )
        refused = "scheduled backup of web could not start: no backup target"
        assert all(a.summary.startswith(refused) for a in alerts)
        refusals = session.scalars(select(AuditEntry).where(AuditEntry.target_id.in_(lab.spaces))).all()
        assert sorted((e.tenant_id, e.target_id) for e in refusals) == sorted(
            zip(lab.tenants, lab.spaces, strict=True)
        )
        assert all(e.outcome.startswith("refused: no backup target") for e in refusals)
    deliver_pending(lab.settings)
    # The shared instance's own backup was refused too: the lab (its owner) hears of that one.
    by_address = {str(m["To"]): m for m in sink.wait_for(4)}
    assert sorted(by_address) == [
        "a@verein-a.org",
        "kim@verein-b.org",
        "ops@lab.example",
        "provisioner@localhost",
    ]
    # Each association hears of its own space only, in its admin's language.
    german = " ".join(str(by_address["a@verein-a.org"]["Subject"]).split())
    assert german.startswith("[provisioner] ALARM Sicherung eines Bereichs fehlgeschlagen: Die geplante")
    english = " ".join(str(by_address["kim@verein-b.org"]["Subject"]).split())
    assert english.startswith("[provisioner] ALERT space backup failed: The scheduled backup of web could")
    # The operators of both, with the shared instance's, in one digest.
    digest = plain_text(by_address["ops@lab.example"])
    assert digest.count("Sicherung eines Bereichs fehlgeschlagen") == 2
    assert all(space_id in digest for space_id in lab.spaces)


def test_two_schedulers_at_once_start_one_backup_of_each_space(
    db_url: str, tmp_path: Path, sink: SmtpSink
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite runs one writer at a time; the race needs PostgreSQL")
    lab = _lab(db_url, tmp_path, sink)
    start = threading.Barrier(SCHEDULERS)

    def one(_: int) -> list[str]:
        start.wait()
        return run_due(lab.settings, CATALOG).job_ids

    for _ in range(5):
        _due(lab)

        with ThreadPoolExecutor(SCHEDULERS) as pool:
            started = [job for jobs in pool.map(one, range(SCHEDULERS)) for job in jobs]
        assert len(started) == 3  # the shared instance's backup and one of each space
        with transaction(lab.settings.resolved_database_url) as session:
            session.execute(update(Job).values(status="succeeded"))  # let the next round start new ones
    backed_up = [j.space_id for j in _jobs(lab, JobKind.SPACE_BACKUP)]
    assert sorted(backed_up) == sorted(lab.spaces * 5)


def test_a_service_that_cannot_separate_its_spaces_saves_them_with_its_shared_instance_only(
    db_url: str, tmp_path: Path, sink: SmtpSink
) -> None:
    """Mattermost's teams (its template: not separable) are in the shared Mattermost's own backup."""
    lab = _lab(db_url, tmp_path, sink)
    with transaction(lab.settings.resolved_database_url) as session:
        factories.server(session, "s2", memory_mb=4096)
        mattermost = CATALOG.get("mattermost")
        set_modes(session, actor=factories.OPERATOR, template=mattermost, modes=["dedicated", "shared"])
        owner = factories.tenant(session, "verein-d")
        team = request_space(
            session, actor=factories.admin_of(owner), catalog=CATALOG, template="mattermost", name="chat",
            tenant_id=None, settings=lab.settings,
        )  # fmt: skip
        approve_space(
            session, actor=factories.OPERATOR, catalog=CATALOG, space_id=team.id, settings=lab.settings
        )
        team.state = SpaceState.RUNNING.value
        assert team.instance is not None
        team.instance.state = InstanceState.RUNNING.value
        shared_id = team.instance.id
        create_schedule(
            session, actor=factories.OPERATOR, settings=lab.settings, catalog=CATALOG,
            kind=ScheduleKind.BACKUP, instance_id=shared_id, template=None, cron="0 3 * * *",
            interval_seconds=None,
        )  # fmt: skip
        session.execute(update(Schedule).values(next_run_at=utcnow() - timedelta(days=1)))
    run_due(lab.settings, CATALOG)
    assert shared_id in [j.instance_id for j in _jobs(lab, JobKind.BACKUP)]
    assert team.id not in [j.space_id for j in _jobs(lab, JobKind.SPACE_BACKUP)]
