from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from api.base_schemas import Page
from api.deps import ActorDep, CatalogDep, CursorQuery, LimitQuery, SessionDep, SettingsDep
from api.monitoring import convert, schemas
from provisioner.alerts import list_alerts
from provisioner.alerts.service import AlertStatus
from provisioner.health.sweep import recent_events
from provisioner.instances.service import get_instance
from provisioner.monitoring.metrics import footprints
from provisioner.schedules import service

router = APIRouter(tags=["monitoring"])


@router.get("/api/v1/schedules")
def list_schedules(
    *,
    actor: ActorDep,
    session: SessionDep,
    settings: SettingsDep,
    instance: Annotated[str | None, Query(max_length=32)] = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[schemas.ScheduleOut]:
    """Recurring backups, updates and drills the caller may see: the lab's for operators, an association's own
    for its members."""
    page = service.list_schedules(session, actor=actor, instance_id=instance, limit=limit, cursor=cursor)
    return Page(items=[convert.schedule(s, settings.timezone) for s in page.items], next=page.next)


@router.post("/api/v1/schedules", status_code=status.HTTP_201_CREATED)
def create_schedule(
    body: schemas.ScheduleIn, actor: ActorDep, session: SessionDep, settings: SettingsDep, catalog: CatalogDep
) -> schemas.ScheduleOut:
    """Schedule recurring work (backup, update, drill) for one instance, or for every instance of a template
    (operators)."""
    row = service.create_schedule(
        session,
        actor=actor,
        settings=settings,
        catalog=catalog,
        kind=body.kind,
        instance_id=body.instance,
        template=body.template,
        cron=body.cron,
        interval_seconds=body.interval_seconds,
        enabled=body.enabled,
    )
    session.commit()
    return convert.schedule(row, settings.timezone)


@router.get("/api/v1/schedules/{schedule_id}")
def get_schedule(
    schedule_id: str, actor: ActorDep, session: SessionDep, settings: SettingsDep
) -> schemas.ScheduleOut:
    """One schedule, with its cron expression and when it runs next."""
    return convert.schedule(
        service.get_schedule(session, actor=actor, schedule_id=schedule_id), settings.timezone
    )


@router.patch("/api/v1/schedules/{schedule_id}")
def update_schedule(
    schedule_id: str, body: schemas.SchedulePatch, actor: ActorDep, session: SessionDep, settings: SettingsDep
) -> schemas.ScheduleOut:
    """Change when a schedule runs, or pause it."""
    given = body.model_fields_set
    timing = {k: getattr(body, k) for k in ("cron", "interval_seconds") if k in given}
    row = service.update_schedule(
        session, actor=actor, settings=settings, schedule_id=schedule_id, enabled=body.enabled, **timing
    )
    session.commit()
    return convert.schedule(row, settings.timezone)


@router.delete("/api/v1/schedules/{schedule_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_schedule(schedule_id: str, actor: ActorDep, session: SessionDep) -> Response:
    """Stop and remove a schedule; work it already started goes on."""
    service.delete_schedule(session, actor=actor, schedule_id=schedule_id)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api/v1/instances/{instance_id}/health")
def instance_health(instance_id: str, actor: ActorDep, session: SessionDep) -> schemas.InstanceHealthOut:
    """The instance's health now and its latest changes (healthy, unhealthy, recovered)."""
    row = get_instance(session, actor=actor, instance_id=instance_id)
    footprint = footprints(session, [row.server_id]).get(row.id) if row.server_id else None
    return schemas.InstanceHealthOut(
        instance=row.id,
        health=row.health,
        checked_at=row.health_checked_at,
        footprint=footprint,
        changes=[
            schemas.HealthEventOut(previous=e.previous, current=e.current, detail=e.detail, at=e.created_at)
            for e in recent_events(session, row.id)
        ],
    )


@router.get("/api/v1/alerts")
def alerts(
    actor: ActorDep,
    session: SessionDep,
    alert_status: Annotated[AlertStatus | None, Query(alias="status")] = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[schemas.AlertOut]:
    """Open and recent alerts (unhealthy instances, full disks, unreachable servers) the caller may see."""
    page = list_alerts(session, actor=actor, status=alert_status, limit=limit, cursor=cursor)
    return Page(items=[convert.alert(a) for a in page.items], next=page.next)
