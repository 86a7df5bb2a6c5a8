"""Finds due schedules and starts their work; called by the scheduler every few seconds.

Each due schedule is claimed by moving its ``next_run_at`` forward with a compare-and-set UPDATE:
of two schedulers seeing the same due run, one wins and the other's UPDATE changes no row. The new
time is the next slot after now, so runs missed while nothing ran are made up once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from provisioner.alerts import AlertKind, raise_alert
from provisioner.audit.log import SUCCESS, Action, record
from provisioner.auth.actor import SYSTEM_ACTOR
from provisioner.backups import service as backups
from provisioner.catalog.loader import Catalog
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.errors import DomainError
from provisioner.instances.operations import update_instance
from provisioner.instances.states import InstanceState
from provisioner.jobs.service import has_unfinished
from provisioner.jobs.states import JobKind
from provisioner.models import Instance, Job, Schedule
from provisioner.schedules.service import ScheduleKind
from provisioner.schedules.spaces import back_up_spaces
from provisioner.schedules.timing import lab_zone, next_run
from provisioner.timeutil import utcnow

log = logging.getLogger(__name__)


@dataclass
class Due:
    """What one round started: job ids to send to the workers, instances to sweep for health."""

    job_ids: list[str] = field(default_factory=list)
    sweep_ids: list[str] = field(default_factory=list)
    claimed: int = 0


def request_update(session: Session, catalog: Catalog, instance: Instance) -> Job | None:
    """In the maintenance window: move to the next version the template allows, if there is one."""
    later = catalog.get(instance.template).update_targets(instance.version)
    if not later:
        return None
    return update_instance(
        session, actor=SYSTEM_ACTOR, catalog=catalog, instance_id=instance.id, version=later[-1]
    )


def _start(
    session: Session,
    *,
    settings: Settings,
    catalog: Catalog,
    kind: ScheduleKind,
    instance: Instance,
    due: Due,
) -> None:
    if kind is ScheduleKind.HEALTH:
        due.sweep_ids.append(instance.id)
        return
    if kind is ScheduleKind.BACKUP:
        # A shared instance's spaces, each alone into its association's repository, beside its own backup.
        due.job_ids += back_up_spaces(
            session,
            settings,
            catalog,
            instance=instance,
            audit=lambda tenant_id, target_id, outcome: _audit(
                session, "scheduled backup", tenant_id, target_id=target_id, outcome=outcome
            ),
        )
    if has_unfinished(session, kind=JobKind(kind.value), instance_id=instance.id):
        log.info("%s of %s is still waiting or running; not starting another", kind.value, instance.id)
        return
    job: Job | None
    if kind is ScheduleKind.BACKUP:
        job = backups.request_backup(session, actor=SYSTEM_ACTOR, instance_id=instance.id, catalog=catalog)
    elif kind is ScheduleKind.DRILL:
        job = backups.request_drill(session, actor=SYSTEM_ACTOR, instance_id=instance.id)
    else:
        job = request_update(session, catalog, instance)
    if job is not None:
        due.job_ids.append(job.id)
        _audit(session, f"scheduled {kind.value}", instance.tenant_id, target_id=job.id)


def _audit(session: Session, action: str, tenant_id: str, *, target_id: str, outcome: str = SUCCESS) -> None:
    """What the lab's schedules did in an association's name is on its audit log, like a person's act."""
    who = SYSTEM_ACTOR.principal
    record(
        session,
        Action(actor=who, action=action, tenant_id=tenant_id, target_id=target_id, outcome=outcome),
    )


def _instances(session: Session, schedule: Schedule) -> Sequence[Instance]:
    running = Instance.state == InstanceState.RUNNING.value
    if schedule.instance_id is not None:
        return (
            session.scalars(select(Instance).where(Instance.id == schedule.instance_id, running))
            .unique()
            .all()
        )
    # A template's default covers its instances that have no schedule of this kind of their own.
    own = select(Schedule.instance_id).where(
        Schedule.kind == schedule.kind, Schedule.instance_id.is_not(None)
    )
    query = select(Instance).where(Instance.template == schedule.template, running, Instance.id.not_in(own))
    return session.scalars(query).unique().all()


def claim(session: Session, schedule: Schedule, *, now: datetime, settings: Settings) -> bool:
    following = next_run(
        cron=schedule.cron,
        interval_seconds=schedule.interval_seconds,
        after=now,
        zone=lab_zone(settings.timezone),
        last_due=schedule.next_run_at,
    )
    moved = session.execute(
        update(Schedule)
        .where(
            Schedule.id == schedule.id,
            Schedule.next_run_at == schedule.next_run_at,
            Schedule.enabled.is_(True),
        )
        .values(next_run_at=following, last_run_at=now)
    )
    claimed: bool = moved.rowcount == 1  # type: ignore[attr-defined]
    return claimed


def run_due(settings: Settings, catalog: Catalog, *, now: datetime | None = None) -> Due:
    """Claim and start every due schedule, each in a transaction of its own."""
    now = now or utcnow()
    url = settings.resolved_database_url
    due = Due()
    with transaction(url) as session:
        ids = session.scalars(
            select(Schedule.id)
            .where(Schedule.enabled.is_(True), Schedule.next_run_at <= now)
            .order_by(Schedule.next_run_at)
        ).all()
    for schedule_id in ids:
        with transaction(url) as session:
            schedule = session.get(Schedule, schedule_id)
            if schedule is None or not claim(session, schedule, now=now, settings=settings):
                continue
            due.claimed += 1
            for instance in _instances(session, schedule):
                try:
                    # One refusal (an update no longer possible) must not cost the other instances.
                    _start(
                        session,
                        settings=settings,
                        catalog=catalog,
                        kind=ScheduleKind(schedule.kind),
                        instance=instance,
                        due=due,
                    )
                except DomainError as exc:
                    _refused(session, settings, schedule, instance, exc)
    return due


_ALERT_ON_REFUSAL = {ScheduleKind.BACKUP: AlertKind.BACKUP_FAILED, ScheduleKind.DRILL: AlertKind.DRILL_FAILED}


def _refused(
    session: Session, settings: Settings, schedule: Schedule, instance: Instance, exc: DomainError
) -> None:
    """A scheduled backup or drill that cannot start (no backup target, nothing backed up yet) alerts:
    otherwise data would go unsaved without anyone knowing. A refused update is only logged."""
    log.warning("schedule %s could not start for %s: %s", schedule.id, instance.id, exc.detail)
    kind = ScheduleKind(schedule.kind)
    _audit(
        session,
        f"scheduled {kind.value}",
        instance.tenant_id,
        target_id=instance.id,
        outcome=f"refused: {exc.detail}",
    )
    alert = _ALERT_ON_REFUSAL.get(kind)
    if alert is None:
        return
    raise_alert(
        session,
        settings,
        kind=alert,
        subject_id=instance.id,
        tenant_id=instance.tenant_id,
        summary=f"scheduled {kind.value} of {instance.name} could not start: {exc.detail}",
    )
