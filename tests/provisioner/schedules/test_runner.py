"""Due schedules start their work once: per slot, after downtime, and with two schedulers racing."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.models import Job, Schedule
from provisioner.schedules.runner import run_due
from provisioner.schedules.service import ScheduleKind, create_schedule
from provisioner.timeutil import utcnow
from tests.support import factories
from tests.support.running import running_homepage

CATALOG = factories.CATALOG


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, database_url=db_url, timezone="Europe/Berlin")


def _setup(settings: Settings, *, per_template: bool = False) -> tuple[str, list[str]]:
    with transaction(settings.resolved_database_url) as session:
        owner = factories.tenant(session)
        server = factories.server(session)
        sites = [running_homepage(session, owner, server, f"site{n}") for n in range(3)]
        schedule = create_schedule(
            session,
            actor=factories.OPERATOR,
            settings=settings,
            catalog=CATALOG,
            kind=ScheduleKind.BACKUP,
            instance_id=None if per_template else sites[0].id,
            template="homepage" if per_template else None,
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
