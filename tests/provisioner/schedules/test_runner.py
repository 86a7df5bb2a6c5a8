"""Due schedules start their work once: per slot, after downtime, and with two schedulers racing."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from provisioner.alerts import AlertKind
from provisioner.backups.repository import repository_for
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.models import Alert, AuditEntry, Backup, Instance, Job, Schedule
from provisioner.schedules.runner import run_due
from provisioner.schedules.service import ScheduleKind, create_schedule
from provisioner.timeutil import utcnow
from tests.support import factories
from tests.support.running import running_blog, unused_backup_target

CATALOG = factories.CATALOG


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, database_url=db_url, timezone="Europe/Berlin")


def _setup(
    settings: Settings,
    *,
    per_template: bool = False,
    kind: ScheduleKind = ScheduleKind.BACKUP,
    with_target: bool = True,
) -> tuple[str, list[str]]:
    with transaction(settings.resolved_database_url) as session:
        if with_target:
            unused_backup_target(session, settings)
        owner = factories.tenant(session)
        server = factories.server(session)
        sites = [running_blog(session, owner, server, f"site{n}") for n in range(3)]
        schedule = create_schedule(
            session,
            actor=factories.OPERATOR,
            settings=settings,
            catalog=CATALOG,
            kind=kind,
            instance_id=None if per_template else sites[0].id,
            template="wordpress" if per_template else None,
            cron="0 3 * * *",
            interval_seconds=None,
        )
        return schedule.id, [s.id for s in sites]


def _backups(settings: Settings) -> list[Job]:
    with transaction(settings.resolved_database_url) as session:
        return list(session.scalars(select(Job).where(Job.kind == "backup")).unique())


def _due_days_ago(settings: Settings, schedule_id: str, days: int) -> None:
    with transaction(settings.resolved_database_url) as session:
        session.execute(
            update(Schedule)
            .where(Schedule.id == schedule_id)
            .values(next_run_at=utcnow() - timedelta(days=days))
        )


def test_nothing_runs_before_its_time_and_a_due_run_starts_one_job(settings: Settings) -> None:
    schedule_id, sites = _setup(settings)
    assert run_due(settings, CATALOG).job_ids == []
    _due_days_ago(settings, schedule_id, 0)
    due = run_due(settings, CATALOG)
    jobs = _backups(settings)
    assert [j.instance_id for j in jobs] == [sites[0]]
    assert due.job_ids == [jobs[0].id]
    assert jobs[0].requested_by == "system"
    with transaction(settings.resolved_database_url) as session:
        schedule = session.get_one(Schedule, schedule_id)
        assert schedule.next_run_at > utcnow()
        assert schedule.last_run_at is not None
        audited = session.scalars(select(AuditEntry)).all()
        assert [(e.actor, e.action, e.target_id, e.outcome) for e in audited] == [
            ("system", "scheduled backup", jobs[0].id, "success")
        ]
        assert audited[0].tenant_id == jobs[0].instance.tenant_id
    assert run_due(settings, CATALOG).job_ids == []


def test_runs_missed_during_downtime_are_caught_up_once(settings: Settings) -> None:
    schedule_id, _ = _setup(settings)
    _due_days_ago(settings, schedule_id, 7)  # seven nightly runs missed
    for _ in range(3):
        run_due(settings, CATALOG)
    assert len(_backups(settings)) == 1


def test_a_templates_default_covers_its_instances_without_their_own(settings: Settings) -> None:
    schedule_id, sites = _setup(settings, per_template=True)
    with transaction(settings.resolved_database_url) as session:
        create_schedule(
            session,
            actor=factories.OPERATOR,
            settings=settings,
            catalog=CATALOG,
            kind=ScheduleKind.BACKUP,
            instance_id=sites[2],
            template=None,
            cron="0 4 * * *",
            interval_seconds=None,
        )
    _due_days_ago(settings, schedule_id, 1)
    run_due(settings, CATALOG)
    assert sorted(j.instance_id for j in _backups(settings)) == sorted(sites[:2])


def test_a_backup_still_waiting_is_not_doubled(settings: Settings) -> None:
    schedule_id, _ = _setup(settings)
    _due_days_ago(settings, schedule_id, 1)
    run_due(settings, CATALOG)
    _due_days_ago(settings, schedule_id, 1)
    run_due(settings, CATALOG)
    assert len(_backups(settings)) == 1


def test_without_a_backup_target_the_run_alerts_why_and_the_others_go_on(settings: Settings) -> None:
    schedule_id, sites = _setup(settings, per_template=True, with_target=False)
    _due_days_ago(settings, schedule_id, 1)
    due = run_due(settings, CATALOG)
    assert due.claimed == 1
    assert due.job_ids == []
    assert _backups(settings) == []
    with transaction(settings.resolved_database_url) as session:
        alerts = session.scalars(select(Alert).where(Alert.kind == AlertKind.BACKUP_FAILED.value)).all()
        assert sorted(a.subject_id for a in alerts) == sorted(sites)
        assert all("no backup target is configured" in a.summary for a in alerts)
        refusals = session.scalars(select(AuditEntry)).all()
        assert sorted(e.target_id or "" for e in refusals) == sorted(sites)
        assert all(e.outcome.startswith("refused: no backup target") for e in refusals)
        schedule = session.get_one(Schedule, schedule_id)
        assert schedule.next_run_at > utcnow()  # claimed: the next run is at its next slot, not at once


def test_a_due_drill_starts_a_drill_of_the_latest_backup(settings: Settings) -> None:
    schedule_id, sites = _setup(settings, kind=ScheduleKind.DRILL)
    _due_days_ago(settings, schedule_id, 1)
    assert run_due(settings, CATALOG).job_ids == []  # nothing backed up yet: nothing to drill with
    with transaction(settings.resolved_database_url) as session:
        alert = session.scalars(select(Alert).where(Alert.kind == AlertKind.DRILL_FAILED.value)).one()
        assert "no succeeded backup" in alert.summary
        instance = session.get_one(Instance, sites[0])
        repository = repository_for(session, settings, tenant_id=instance.tenant_id)
        session.add(
            Backup(
                instance_id=instance.id,
                repository_id=repository.id,
                status="succeeded",
                version=instance.version,
                snapshot_id="abcd1234",
            )
        )
    _due_days_ago(settings, schedule_id, 1)
    due = run_due(settings, CATALOG)
    with transaction(settings.resolved_database_url) as session:
        drills = session.scalars(select(Job).where(Job.kind == "drill")).unique().all()
        assert [(j.id, j.instance_id, j.requested_by) for j in drills] == [
            (due.job_ids[0], sites[0], "system")
        ]


def test_two_schedulers_at_once_start_each_due_run_once(settings: Settings) -> None:
    if not settings.resolved_database_url.startswith("postgresql"):
        pytest.skip("SQLite runs one writer at a time; the race needs PostgreSQL")
    schedule_id, _ = _setup(settings, per_template=True)
    for _ in range(5):
        _due_days_ago(settings, schedule_id, 2)
        assert _race(settings, schedulers=4) == []
        with transaction(settings.resolved_database_url) as session:
            session.execute(update(Job).values(status="succeeded"))  # let the next round start new ones
    assert len(_backups(settings)) == 5 * 3


def _race(settings: Settings, *, schedulers: int) -> list[BaseException]:
    start = threading.Barrier(schedulers)
    errors: list[BaseException] = []

    def one() -> None:
        start.wait()
        try:
            run_due(settings, CATALOG)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(schedulers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
