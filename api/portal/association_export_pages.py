"""An association takes all its data with it: the export of all its services asked for on its page
(the team page), and its archive downloaded."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from api.deps import CatalogDep, DispatcherDep, SessionDep, SettingsDep
from api.exports.routes import archive_response
from api.portal.auth import SignedForm, ViewerDep
from api.portal.team_pages import team_page, tenant_of
from provisioner.errors import Conflict, InvalidInput
from provisioner.exports.association import request_association_export
from provisioner.exports.service import downloadable
from provisioner.jobs.queue import commit_and_send

router = APIRouter(include_in_schema=False)


@router.post("/team/exports")
def export_everything(
    request: Request,
    *,
    viewer: ViewerDep,
    form: SignedForm,
    session: SessionDep,
    catalog: CatalogDep,
    dispatcher: DispatcherDep,
) -> Response:
    tenant_id = tenant_of(viewer, form.get("tenant"))
    if tenant_id is None:
        raise InvalidInput("choose an association")
    try:
        requested = request_association_export(
            session, actor=viewer.actor, catalog=catalog, tenant_id=tenant_id
        )
    except Conflict as exc:
        session.rollback()
        response = team_page(
            request, viewer, session, tenant_id=tenant_id, notice=None, extra={"export_error": exc.detail}
        )
        response.status_code = 409
        return response
    commit_and_send(session, dispatcher)
    return RedirectResponse(f"/jobs/{requested.job.id}", status_code=303)


@router.get("/team/exports/{export_id}/archive")
def download(
    export_id: str, viewer: ViewerDep, session: SessionDep, settings: SettingsDep
) -> StreamingResponse:
    export, path = downloadable(session, settings, actor=viewer.actor, export_id=export_id)
    if export.instance_id is not None or export.space_id is not None:
        raise Conflict("this export is of one service or space; download it from its page")
    return archive_response(settings, export, path)
