"""Schedules as the API and the CLI edit them, with the actor checked against each one.

Operators manage every schedule. An association's admin may add, change and remove the backup
schedule of its own instances (when its data is saved is its business); its members may look at its
instances' schedules. Template defaults and other kinds belong to the lab.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor
from provisioner.catalog.loader import Catalog
from provisioner.config import Settings
from provisioner.errors import Conflict, Forbidden, InvalidInput, NotFound
from provisioner.instances.service import get_instance
from provisioner.models import Instance, Schedule
from provisioner.pagination import Page, paginate
from provisioner.schedules.timing import lab_zone, next_run, validate
from provisioner.timeutil import utcnow


class ScheduleKind(StrEnum):
    BACKUP = "backup"
    UPDATE = "update"
    HEALTH = "health"
    DRILL = "drill"


TENANT_KINDS = frozenset({ScheduleKind.BACKUP})
_UNSET = object()


def _require_change(actor: Actor, schedule: Schedule, tenant_id: str | None) -> None:
    if tenant_id is None:
        actor.require_operator()
        return
    actor.require_write(tenant_id, "schedule")
    if not actor.is_operator and schedule.kind not in TENANT_KINDS:
        raise Forbidden("an association may change only the backup schedule of its instances")


def _tenant_of(session: Session, schedule: Schedule) -> str | None:
    if schedule.instance_id is None:
        return None
    return session.scalar(select(Instance.tenant_id).where(Instance.id == schedule.instance_id))


def get_schedule(session: Session, *, actor: Actor, schedule_id: str) -> Schedule:
    schedule = session.get(Schedule, schedule_id)
    if schedule is None:
        raise NotFound("schedule not found")
    tenant_id = _tenant_of(session, schedule)
    if tenant_id is None and not actor.is_operator:
        raise NotFound("schedule not found")  # the lab's defaults are not an association's business
    if tenant_id is not None:
        actor.require_visible(tenant_id, "schedule")
    return schedule


@dataclass(frozen=True)
class Effective:
    """An instance's own schedule of one kind and its template's default: the own one wins."""

    own: Schedule | None
    default: Schedule | None

    @property
    def schedule(self) -> Schedule | None:
        return self.own or self.default


def effective_schedule(session: Session, *, actor: Actor, instance_id: str, kind: ScheduleKind) -> Effective:
    """What times an instance's work of one kind, as the runner reads it: an own schedule, even a paused
    one, keeps the template's default away. Whoever may see the instance may see both."""
    instance = get_instance(session, actor=actor, instance_id=instance_id)
    own = session.scalar(
        select(Schedule).where(Schedule.kind == kind.value, Schedule.instance_id == instance.id)
    )
    default = session.scalar(
        select(Schedule).where(
            Schedule.kind == kind.value,
            Schedule.instance_id.is_(None),
            Schedule.template == instance.template,
        )
    )
    return Effective(own=own, default=default)


def list_schedules(
    session: Session, *, actor: Actor, instance_id: str | None, limit: int, cursor: str | None
) -> Page[Schedule]:
    query = select(Schedule)
    if not actor.is_operator:
        query = query.join(Instance, Instance.id == Schedule.instance_id).where(
            Instance.tenant_id == actor.tenant_id
        )
    if instance_id is not None:
        query = query.where(Schedule.instance_id == instance_id)
    return paginate(session, query, Schedule, limit=limit, cursor=cursor)


def _require_data(catalog: Catalog, kind: ScheduleKind, template: str) -> None:
    """Backups and drills of a service without data would only ever be refused, night after night."""
    if kind in (ScheduleKind.BACKUP, ScheduleKind.DRILL) and not catalog.get(template).keeps_data:
        message = f"the {template} service keeps no data to back up"
        raise InvalidInput(message, errors=[{"field": "body.kind", "message": message}])


def create_schedule(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    catalog: Catalog,
    kind: ScheduleKind,
    instance_id: str | None,
    template: str | None,
    cron: str | None,
    interval_seconds: int | None,
    enabled: bool = True,
) -> Schedule:
    if (instance_id is None) == (template is None):
        raise InvalidInput(
            "a schedule is for one instance or a template's default",
            errors=[{"field": "body.instance", "message": "exactly one of instance and template"}],
        )
    schedule = Schedule(kind=kind.value, instance_id=instance_id, template=template, enabled=enabled)
    if instance_id is not None:
        instance = get_instance(session, actor=actor, instance_id=instance_id)
        _require_change(actor, schedule, instance.tenant_id)
        service = instance.template
    else:
        actor.require_operator()
        try:
            catalog.get(template or "")
        except NotFound as exc:
            raise InvalidInput(
                str(exc), errors=[{"field": "body.template", "message": "not in the catalog"}]
            ) from exc
        service = template or ""
    _require_data(catalog, kind, service)
    validate(cron, interval_seconds)
    twin = select(Schedule.id).where(
        Schedule.kind == kind.value, Schedule.instance_id == instance_id, Schedule.template == template
    )
    if instance_id is None:
        twin = select(Schedule.id).where(Schedule.kind == kind.value, Schedule.template == template)
    if session.scalar(twin) is not None:
        raise Conflict(f"there is a {kind.value} schedule for it already; change that one")
    schedule.cron, schedule.interval_seconds = cron, interval_seconds
    schedule.next_run_at = next_run(
        cron=cron, interval_seconds=interval_seconds, after=utcnow(), zone=lab_zone(settings.timezone)
    )
    session.add(schedule)
    session.flush()
    return schedule


def update_schedule(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    schedule_id: str,
    cron: str | object | None = _UNSET,
    interval_seconds: int | object | None = _UNSET,
    enabled: bool | None = None,
) -> Schedule:
    """Change timing or pause; giving a cron drops the interval and the other way round."""
    schedule = get_schedule(session, actor=actor, schedule_id=schedule_id)
    _require_change(actor, schedule, _tenant_of(session, schedule))
    if cron is not _UNSET or interval_seconds is not _UNSET:
        new_cron = None if cron is _UNSET else cron
        new_interval = None if interval_seconds is _UNSET else interval_seconds
        assert new_cron is None or isinstance(new_cron, str)  # noqa: S101 - the API's types say so
        assert new_interval is None or isinstance(new_interval, int)  # noqa: S101
        validate(new_cron, new_interval)
        schedule.cron, schedule.interval_seconds = new_cron, new_interval
        schedule.next_run_at = next_run(
            cron=new_cron, interval_seconds=new_interval, after=utcnow(), zone=lab_zone(settings.timezone)
        )
    if enabled is not None:
        schedule.enabled = enabled
    session.flush()
    return schedule


def delete_schedule(session: Session, *, actor: Actor, schedule_id: str) -> None:
    schedule = get_schedule(session, actor=actor, schedule_id=schedule_id)
    _require_change(actor, schedule, _tenant_of(session, schedule))
    session.delete(schedule)
    session.flush()
