"""When a service is backed up: its association's admin chooses, its members look, the lab may do both."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from api.deps import CatalogDep, SessionDep, SettingsDep
from api.portal.auth import SignedForm, ViewerDep
from api.portal.i18n import Texts
from api.portal.rendering import render, texts_for
from api.portal.timetable import DEFAULT_TIME, WEEKDAYS, Chosen, Timing, chosen, describe, read
from provisioner.catalog.loader import Catalog
from provisioner.config import Settings
from provisioner.errors import Conflict, InvalidInput
from provisioner.instances.service import get_instance
from provisioner.models import Instance, Schedule
from provisioner.schedules.service import (
    Effective,
    ScheduleKind,
    create_schedule,
    delete_schedule,
    effective_schedule,
    update_schedule,
)

router = APIRouter(include_in_schema=False)


def summary(texts: Texts, settings: Settings, schedule: Schedule | None, *, own: bool) -> dict[str, Any]:
    """What the pages say of a schedule: how often, when next, and whether it is the instance's own."""
    if schedule is None or not schedule.enabled:
        return {"runs": False, "own": own}
    return {
        "runs": True,
        "own": own,
        "words": describe(texts, schedule.cron, schedule.interval_seconds),
        "next_run": texts.moment(schedule.next_run_at),
        "next_run_iso": schedule.next_run_at.isoformat(),
        "zone": settings.timezone,
    }


def _effective(texts: Texts, settings: Settings, effective: Effective) -> dict[str, Any]:
    return summary(texts, settings, effective.schedule, own=effective.own is not None)


def backup_summary(
    request: Request, session: Session, settings: Settings, viewer: ViewerDep, instance: Instance
) -> dict[str, Any]:
    effective = effective_schedule(
        session, actor=viewer.actor, instance_id=instance.id, kind=ScheduleKind.BACKUP
    )
    return _effective(texts_for(request), settings, effective)


def _page(
    request: Request,
    session: Session,
    settings: Settings,
    viewer: ViewerDep,
    instance: Instance,
    *,
    keeps_data: bool,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    texts = texts_for(request)
    backup = effective_schedule(
        session, actor=viewer.actor, instance_id=instance.id, kind=ScheduleKind.BACKUP
    )
    drill = effective_schedule(session, actor=viewer.actor, instance_id=instance.id, kind=ScheduleKind.DRILL)
    own = backup.own
    timing = read(own.cron, own.interval_seconds) if own else Timing("default")
    choice = "off" if own is not None and not own.enabled else timing.choice
    shown = {
        # A timing no simple choice says is not preselected as one, so sending the form unchanged
        # asks for a choice instead of replacing it.
        "choice": "" if choice == "custom" else choice,
        "time": timing.time,
        "weekday": str(timing.weekday),
        "hours": str(timing.hours),
    }
    context = {
        "instance": instance,
        "backup": _effective(texts, settings, backup),
        "lab_default": summary(texts, settings, backup.default, own=False),
        "drill": _effective(texts, settings, drill),
        "zone": settings.timezone,
        "weekdays": WEEKDAYS,
        "values": shown | (values or {}),
        "errors": errors or {},
        "general_error": (errors or {}).get(""),
        "changed": request.query_params.get("changed") == "1",
        "keeps_data": keeps_data,
    }
    return render(request, "backup_schedule.html", context, status_code=status_code)


@router.get("/services/{instance_id}/backup-schedule")
def backup_schedule_page(
    request: Request,
    instance_id: str,
    *,
    viewer: ViewerDep,
    session: SessionDep,
    settings: SettingsDep,
    catalog: CatalogDep,
) -> Response:
    instance = get_instance(session, actor=viewer.actor, instance_id=instance_id)
    keeps_data = catalog.get(instance.template).keeps_data
    return _page(request, session, settings, viewer, instance, keeps_data=keeps_data)


def apply(
    session: Session,
    *,
    viewer: ViewerDep,
    settings: Settings,
    catalog: Catalog,
    instance: Instance,
    wanted: Chosen,
) -> None:
    """The choice through the schedule service: the instance's own schedule is added, changed,
    paused or removed (the lab's default then applies again)."""
    actor = viewer.actor
    current = effective_schedule(session, actor=actor, instance_id=instance.id, kind=ScheduleKind.BACKUP)
    own = current.own
    if wanted.choice == "default":
        if own is not None:
            delete_schedule(session, actor=actor, schedule_id=own.id)
        return
    if wanted.choice == "off":
        if own is not None:
            update_schedule(session, actor=actor, settings=settings, schedule_id=own.id, enabled=False)
            return
        # A paused schedule of its own keeps the lab's default away from the instance; it takes the
        # default's timing, so that turning it on again changes nothing else.
        like = current.default
        wanted = Chosen(
            "off",
            cron=like.cron if like else f"{DEFAULT_TIME[3:]} {DEFAULT_TIME[:2]} * * *",
            interval_seconds=like.interval_seconds if like else None,
        )
    if own is not None:
        update_schedule(
            session,
            actor=actor,
            settings=settings,
            schedule_id=own.id,
            cron=wanted.cron,
            interval_seconds=wanted.interval_seconds,
            enabled=True,
        )
        return
    create_schedule(
        session,
        actor=actor,
        settings=settings,
        catalog=catalog,
        kind=ScheduleKind.BACKUP,
        instance_id=instance.id,
        template=None,
        cron=wanted.cron,
        interval_seconds=wanted.interval_seconds,
        enabled=wanted.choice != "off",
    )


@router.post("/services/{instance_id}/backup-schedule")
def change_backup_schedule(
    request: Request,
    instance_id: str,
    *,
    viewer: ViewerDep,
    form: SignedForm,
    session: SessionDep,
    settings: SettingsDep,
    catalog: CatalogDep,
) -> Response:
    instance = get_instance(session, actor=viewer.actor, instance_id=instance_id)
    # Going back to the default may change nothing; members are refused all the same.
    viewer.actor.require_write(instance.tenant_id, "schedule")
    if not catalog.get(instance.template).keeps_data:
        # Scheduled backups of it would only be refused, and each refusal alerts the lab.
        raise Conflict(f"the {instance.template} service keeps no data to back up")
    wanted, errors = chosen(form)
    if wanted is not None:
        try:
            apply(
                session, viewer=viewer, settings=settings, catalog=catalog, instance=instance, wanted=wanted
            )
        except (InvalidInput, Conflict) as exc:
            session.rollback()
            errors = {"": exc.detail}
        else:
            session.commit()
            return RedirectResponse(f"/services/{instance.id}/backup-schedule?changed=1", status_code=303)
    return _page(
        request,
        session,
        settings,
        viewer,
        instance,
        keeps_data=True,
        errors=errors,
        values=form,
        status_code=422,
    )
