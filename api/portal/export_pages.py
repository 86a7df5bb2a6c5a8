"""An association takes its data with it: an export of a service asked for, and its archive downloaded."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from api.deps import CatalogDep, DispatcherDep, SessionDep, SettingsDep
from api.exports.routes import archive_response
from api.portal.auth import SignedForm, ViewerDep
from api.portal.service_pages import detail_page
from provisioner.errors import Conflict
from provisioner.exports.service import downloadable, request_export
from provisioner.instances.service import get_instance
from provisioner.jobs.queue import commit_and_send

router = APIRouter(include_in_schema=False)


@router.post("/services/{instance_id}/exports")
def export_now(
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
        requested = request_export(session, actor=viewer.actor, catalog=catalog, instance_id=instance.id)
    except Conflict as exc:
        session.rollback()
        extra = {"export_error": exc.detail}
        response = detail_page(request, session, instance, catalog=catalog, viewer=viewer, extra=extra)
        response.status_code = 409
        return response
    commit_and_send(session, dispatcher)
    return RedirectResponse(f"/jobs/{requested.job.id}", status_code=303)


@router.get("/services/{instance_id}/exports/{export_id}/archive")
def download(
    instance_id: str, export_id: str, viewer: ViewerDep, session: SessionDep, settings: SettingsDep
) -> StreamingResponse:
    instance = get_instance(session, actor=viewer.actor, instance_id=instance_id)
    export, path = downloadable(session, settings, actor=viewer.actor, export_id=export_id)
    if export.instance_id != instance.id:
        raise Conflict("this export is of another service")
    return archive_response(settings, export, path)
