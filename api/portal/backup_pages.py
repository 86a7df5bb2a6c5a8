"""An association's backups: take one now, put one back in place, or restore it into a copy."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api.backups import schemas as backup_schemas
from api.deps import CatalogDep, DispatcherDep, SessionDep, SettingsDep
from api.portal.auth import SignedForm, ViewerDep
from api.portal.forms import errors_by_field, pydantic_errors
from api.portal.rendering import render
from api.portal.service_pages import detail_page
from provisioner.backups.service import list_backups, request_backup, request_restore
from provisioner.errors import Conflict, InvalidInput, NotFound
from provisioner.instances.service import get_instance
from provisioner.jobs.queue import commit_and_send
from provisioner.models import Backup, Instance

router = APIRouter(include_in_schema=False)


def _backup(session: SessionDep, viewer: ViewerDep, instance: Instance, backup_id: str) -> Backup:
    for backup in list_backups(session, actor=viewer.actor, instance_id=instance.id):
        if backup.id == backup_id:
            return backup
    raise NotFound("no such backup")


@router.post("/services/{instance_id}/backups")
def back_up_now(
    request: Request,
    instance_id: str,
    *,
    viewer: ViewerDep,
    form: SignedForm,
    session: SessionDep,
    catalog: CatalogDep,
    dispatcher: DispatcherDep,
) -> Response:
    instance = get_instance(session, actor=viewer.actor, instance_id=instance_id)
    try:
        job = request_backup(session, actor=viewer.actor, instance_id=instance.id, catalog=catalog)
    except Conflict as exc:
        session.rollback()
        extra = {"backup_error": exc.detail}
        response = detail_page(request, session, instance, catalog=catalog, viewer=viewer, extra=extra)
        response.status_code = 409
        return response
    commit_and_send(session, dispatcher)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


def _restore_page(
    request: Request,
    instance: Instance,
    backup: Backup,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "instance": instance,
        "backup": backup,
        "errors": errors or {},
        "values": values or {},
        "general_error": (errors or {}).get(""),
    }
    return render(request, "restore.html", context, status_code=status_code)


@router.get("/services/{instance_id}/backups/{backup_id}/restore")
def confirm_restore(
    request: Request, instance_id: str, backup_id: str, viewer: ViewerDep, session: SessionDep
) -> Response:
    instance = get_instance(session, actor=viewer.actor, instance_id=instance_id)
    return _restore_page(request, instance, _backup(session, viewer, instance, backup_id))


@router.post("/services/{instance_id}/backups/{backup_id}/restore")
def restore(
    request: Request,
    instance_id: str,
    backup_id: str,
    *,
    viewer: ViewerDep,
    form: SignedForm,
    session: SessionDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
) -> Response:
    instance = get_instance(session, actor=viewer.actor, instance_id=instance_id)
    backup = _backup(session, viewer, instance, backup_id)
    into = "new" if form.get("into") == "new" else "place"
    if into == "place" and form.get("confirm") != "yes":
        errors = {"confirm": "confirm"}
        return _restore_page(request, instance, backup, errors=errors, values=form, status_code=422)
    try:
        body = backup_schemas.RestoreIn(backup=backup.id, into=into, name=form.get("name") or None)
        accepted = request_restore(
            session,
            actor=viewer.actor,
            catalog=catalog,
            instance_id=instance.id,
            backup_id=body.backup,
            into=body.into,
            name=body.name,
            settings=settings,
        )
    except ValidationError as exc:
        errors = pydantic_errors(exc)
    except (InvalidInput, Conflict) as exc:
        errors = errors_by_field(exc.errors) or {"": exc.detail}
    else:
        commit_and_send(session, dispatcher)
        if accepted.job is None:  # an association's copy waits for approval, like a request
            return RedirectResponse(f"/services/{accepted.instance.id}", status_code=303)
        return RedirectResponse(f"/jobs/{accepted.job.id}", status_code=303)
    session.rollback()
    return _restore_page(request, instance, backup, errors=errors, values=form, status_code=422)
