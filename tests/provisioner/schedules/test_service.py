"""The schedule that times an instance's work: its own, else its template's default; its tenant's only."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.errors import InvalidInput, NotFound
from provisioner.schedules.service import ScheduleKind, create_schedule, effective_schedule, update_schedule
from tests.support import factories
from tests.support.running import running_blog


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, database_url=db_url)


def test_the_own_schedule_wins_over_the_default_even_when_paused(settings: Settings) -> None:
    with transaction(settings.resolved_database_url) as session:
        owner, other = factories.tenant(session, "verein-a"), factories.tenant(session, "verein-b")
        blog = running_blog(session, owner, factories.server(session), "blog")
        admin = factories.admin_of(owner)
        found = effective_schedule(session, actor=admin, instance_id=blog.id, kind=ScheduleKind.BACKUP)
        assert (found.own, found.default, found.schedule) == (None, None, None)
        default = create_schedule(
            session,
            actor=factories.OPERATOR,
            settings=settings,
            catalog=factories.CATALOG,
            kind=ScheduleKind.BACKUP,
            instance_id=None,
            template="wordpress",
            cron="30 2 * * *",
            interval_seconds=None,
        )
        found = effective_schedule(session, actor=admin, instance_id=blog.id, kind=ScheduleKind.BACKUP)
        assert (found.own, found.schedule) == (None, default), "the tenant sees the lab's default"
        own = create_schedule(
            session,
            actor=admin,
            settings=settings,
            catalog=factories.CATALOG,
            kind=ScheduleKind.BACKUP,
            instance_id=blog.id,
            template=None,
            cron=None,
            interval_seconds=6 * 3600,
        )
        update_schedule(session, actor=admin, settings=settings, schedule_id=own.id, enabled=False)
        found = effective_schedule(session, actor=admin, instance_id=blog.id, kind=ScheduleKind.BACKUP)
        assert (found.own, found.default, found.schedule) == (own, default, own)
        drill = effective_schedule(session, actor=admin, instance_id=blog.id, kind=ScheduleKind.DRILL)
        assert drill.schedule is None
        with pytest.raises(NotFound):
            effective_schedule(
                session, actor=factories.admin_of(other), instance_id=blog.id, kind=ScheduleKind.BACKUP
            )


@pytest.mark.parametrize("kind", [ScheduleKind.BACKUP, ScheduleKind.DRILL])
def test_a_service_without_data_gets_no_backup_or_drill_schedule(
    settings: Settings, kind: ScheduleKind
) -> None:
    with transaction(settings.resolved_database_url) as session:
        owner = factories.tenant(session)
        site = factories.homepage(session, owner)
        for instance_id, template in ((site.id, None), (None, "homepage")):
            with pytest.raises(InvalidInput) as refused:
                create_schedule(
                    session,
                    actor=factories.OPERATOR,
                    settings=settings,
                    catalog=factories.CATALOG,
                    kind=kind,
                    instance_id=instance_id,
                    template=template,
                    cron="30 2 * * *",
                    interval_seconds=None,
                )
            assert refused.value.errors[0]["field"] == "body.kind"
            assert "keeps no data" in refused.value.detail
        health = create_schedule(
            session,
            actor=factories.OPERATOR,
            settings=settings,
            catalog=factories.CATALOG,
            kind=ScheduleKind.HEALTH,
            instance_id=site.id,
            template=None,
            cron=None,
            interval_seconds=60,
        )
        assert health.instance_id == site.id
