"""The lab's schedules: recurring backups, updates, health checks and drills, per instance or template."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import CatalogDep, SessionDep, SettingsDep
from api.portal.auth import OperatorDep, SignedForm
from api.portal.forms import errors_by_field
from api.portal.rendering import render
from provisioner.errors import Conflict, InvalidInput, NotFound
from provisioner.pagination import MAX_LIMIT
from provisioner.schedules.service import (
    ScheduleKind,
    create_schedule,
    delete_schedule,
    list_schedules,
    update_schedule,
)

router = APIRouter(prefix="/operator", include_in_schema=False)
MINUTE = 60


def _page(
    request: Request,
    viewer: OperatorDep,
    session: SessionDep,
    catalog: CatalogDep,
    *,
    errors: dict[str, dict[str, str]] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    schedules = list_schedules(session, actor=viewer.actor, instance_id=None, limit=MAX_LIMIT, cursor=None)
    context = {
        "schedules": schedules.items,
        "kinds": list(ScheduleKind),
        "templates": catalog.all(),
        "errors": errors or {},
        "values": values or {},
        "changed": request.query_params.get("changed") == "1",
    }
    return render(request, "operator/schedules.html", context, status_code=status_code)


@router.get("/schedules")
def schedules_page(
    request: Request, viewer: OperatorDep, session: SessionDep, catalog: CatalogDep
) -> Response:
    return _page(request, viewer, session, catalog)


def _timing(form: dict[str, str]) -> tuple[str | None, int | None, dict[str, str]]:
    """The cron expression or the interval (typed in minutes), and what is wrong with them as typed."""
    cron = form.get("cron", "").strip() or None
    raw = form.get("interval", "").strip()
    if not raw:
        return cron, None, {}
    try:
        return cron, int(raw) * MINUTE, {}
    except ValueError:
        return cron, None, {"interval": "a whole number of minutes"}


def _field_errors(exc: InvalidInput | Conflict) -> dict[str, str]:
    found = errors_by_field(exc.errors) or {"": exc.detail}
    if "interval_seconds" in found:
        found["interval"] = found.pop("interval_seconds")
    return found


def _done() -> Response:
    return RedirectResponse("/operator/schedules?changed=1", status_code=303)


@router.post("/schedules")
def add_schedule(
    request: Request,
    *,
    viewer: OperatorDep,
    form: SignedForm,
    session: SessionDep,
    settings: SettingsDep,
    catalog: CatalogDep,
) -> Response:
    cron, interval, errors = _timing(form)
    kind = form.get("kind", "")
    if kind not in set(ScheduleKind):
        errors["kind"] = "choose a kind"
    if not errors:
        try:
            create_schedule(
                session,
                actor=viewer.actor,
                settings=settings,
                catalog=catalog,
                kind=ScheduleKind(kind),
                instance_id=form.get("instance", "").strip() or None,
                template=form.get("template") or None,
                cron=cron,
                interval_seconds=interval,
                enabled="enabled" in form,
            )
        except (InvalidInput, Conflict) as exc:
            session.rollback()
            errors = _field_errors(exc)
        except NotFound as exc:
            session.rollback()
            errors = {"instance": exc.detail}
        else:
            session.commit()
            return _done()
    return _page(request, viewer, session, catalog, errors={"new": errors}, values=form, status_code=422)


@router.post("/schedules/{schedule_id}")
def change_schedule(
    request: Request,
    schedule_id: str,
    *,
    viewer: OperatorDep,
    form: SignedForm,
    session: SessionDep,
    settings: SettingsDep,
    catalog: CatalogDep,
) -> Response:
    cron, interval, errors = _timing(form)
    if not errors:
        changes: dict[str, Any] = {"cron": cron, "interval_seconds": interval}
        try:
            update_schedule(
                session,
                actor=viewer.actor,
                settings=settings,
                schedule_id=schedule_id,
                enabled="enabled" in form,
                **changes,
            )
        except (InvalidInput, Conflict) as exc:
            session.rollback()
            errors = _field_errors(exc)
        else:
            session.commit()
            return _done()
    return _page(request, viewer, session, catalog, errors={schedule_id: errors}, status_code=422)


@router.post("/schedules/{schedule_id}/remove")
def remove_schedule(
    schedule_id: str, *, viewer: OperatorDep, form: SignedForm, session: SessionDep
) -> Response:
    delete_schedule(session, actor=viewer.actor, schedule_id=schedule_id)
    session.commit()
    return _done()
