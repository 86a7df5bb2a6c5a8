"""Spaces in the portal: an association asks for one and sees it beside its dedicated services, with
its first admin shown once; operators approve the requests and choose which modes each service has."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.deps import CatalogDep, DispatcherDep, SessionDep, SettingsDep
from api.exports.routes import archive_response
from api.portal.auth import OperatorDep, SignedForm, Viewer, ViewerDep
from api.portal.forms import errors_by_field, pydantic_errors
from api.portal.rendering import render
from api.spaces import convert, schemas
from provisioner.catalog.loader import Catalog
from provisioner.catalog.modes import allowed_modes, set_modes
from provisioner.catalog.sharing import Mode, offered_modes
from provisioner.errors import Conflict, DomainError, InvalidInput
from provisioner.exports.service import downloadable
from provisioner.exports.space import request_space_export, space_exports, unexportable
from provisioner.instances.credentials import CredentialsGone
from provisioner.jobs.queue import Dispatcher, commit_and_send
from provisioner.models import Job, Space
from provisioner.pagination import MAX_LIMIT
from provisioner.spaces import data, quota, service
from provisioner.spaces.credentials import reveal_space_admin
from provisioner.spaces.footprint import space_share
from provisioner.spaces.links import moderator_link
from provisioner.spaces.states import SpaceState
from provisioner.tenants.service import list_tenants

router = APIRouter(include_in_schema=False)


def modes_by_service(session: Session, catalog: Catalog) -> dict[str, list[Mode]]:
    """What associations may request of each service, for the catalog's buttons."""
    return {template.name: allowed_modes(session, template) for template in catalog.all()}


def _request_page(
    request: Request,
    session: Session,
    viewer: Viewer,
    catalog: Catalog,
    name: str,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    tenants = (
        list_tenants(session, actor=viewer.actor, limit=MAX_LIMIT, cursor=None).items
        if viewer.is_operator
        else []
    )
    context = {"service": catalog.get(name), "values": values, "errors": errors, "tenants": tenants}
    return render(request, "space_request.html", context, status_code=status_code)


@router.get("/catalog/{name}/space")
def space_form(
    request: Request, name: str, viewer: ViewerDep, session: SessionDep, catalog: CatalogDep
) -> Response:
    return _request_page(request, session, viewer, catalog, name, values={}, errors={})


@router.post("/catalog/{name}/space")
def send_space_request(
    request: Request,
    name: str,
    *,
    viewer: ViewerDep,
    form: SignedForm,
    session: SessionDep,
    catalog: CatalogDep,
    settings: SettingsDep,
) -> Response:
    try:
        body = schemas.SpaceIn(template=name, name=form.get("name", ""), tenant=form.get("tenant") or None)
        space = service.request_space(
            session,
            actor=viewer.actor,
            catalog=catalog,
            template=body.template,
            name=body.name,
            tenant_id=body.tenant,
            settings=settings,
        )
    except ValidationError as exc:
        errors = pydantic_errors(exc)
    except InvalidInput as exc:
        errors = errors_by_field(exc.errors) or {"": exc.detail}
    except Conflict as exc:
        # The whole refusal, as a service request shows it: it names the name taken, in the viewer's words.
        errors = {"name": exc.detail}
    else:
        session.commit()
        return RedirectResponse(f"/spaces/{space.id}", status_code=303)
    session.rollback()
    return _request_page(request, session, viewer, catalog, name, values=form, errors=errors, status_code=422)


def space_page(
    request: Request, session: Session, viewer: Viewer, catalog: Catalog, space: Space, **extra: object
) -> Response:
    template = catalog.get(space.template)
    shared = template.sharing.shared if template.sharing else None
    kept = shared.data if shared is not None else None
    context = {
        "signed_links": shared.signed_links if shared is not None else None,
        # Operators change the limits the service enforces, where it has a command for it.
        "quota_changeable": shared is not None and shared.commands.change is not None,
        "quota_errors": {},
        "quota_values": {},
        "space": space,
        "service": template,
        "separable": kept is not None and kept.separable,
        "restore_note": kept.restore if kept is not None else None,
        "backups": data.list_space_backups(session, actor=viewer.actor, space_id=space.id),
        "exportable": kept is not None and unexportable(catalog, space) is None,
        "exports": space_exports(session, actor=viewer.actor, space_id=space.id)[:1],
        "export_keep_hours": request.app.state.settings.export_keep_hours,
        "quota": convert.space(space, catalog).quota,
        "jobs": service.space_jobs(session, space=space),
        "share": space_share(session, request.app.state.settings, catalog, space=space),
        **extra,
    }
    return render(request, "space.html", context)


@router.get("/spaces/{space_id}")
def show_space(
    request: Request, space_id: str, viewer: ViewerDep, session: SessionDep, catalog: CatalogDep
) -> Response:
    space = service.get_space(session, actor=viewer.actor, space_id=space_id)
    return space_page(request, session, viewer, catalog, space)


@router.post("/spaces/{space_id}/moderator-links")
def make_moderator_link(
    request: Request,
    space_id: str,
    *,
    viewer: ViewerDep,
    form: SignedForm,
    session: SessionDep,
    catalog: CatalogDep,
    settings: SettingsDep,
) -> Response:
    space = service.get_space(session, actor=viewer.actor, space_id=space_id)
    try:
        days = int(form.get("days", "7"))
    except ValueError:
        days = 0
    try:
        link = moderator_link(
            session, settings, catalog, actor=viewer.actor, space_id=space.id, room="*", days=max(days, 1),
            name="Moderation",
        )  # fmt: skip
    except (InvalidInput, Conflict) as exc:
        session.rollback()
        return space_page(request, session, viewer, catalog, space, link_refused=exc.detail)
    session.commit()
    response = space_page(request, session, viewer, catalog, space, moderator_link=link)
    response.headers["Cache-Control"] = "no-store"  # the page holds the link
    return response


@router.post("/spaces/{space_id}/credentials")
def show_space_admin(
    request: Request,
    space_id: str,
    *,
    viewer: ViewerDep,
    form: SignedForm,
    session: SessionDep,
    catalog: CatalogDep,
    settings: SettingsDep,
) -> Response:
    space = service.get_space(session, actor=viewer.actor, space_id=space_id)
    try:
        shown = reveal_space_admin(session, settings, actor=viewer.actor, space=space, catalog=catalog)
    except (CredentialsGone, Conflict) as exc:
        session.rollback()
        return space_page(request, session, viewer, catalog, space, credentials_gone=exc.status_code)
    session.commit()
    response = space_page(request, session, viewer, catalog, space, credentials=shown)
    response.headers["Cache-Control"] = "no-store"  # the page holds a password
    return response


@router.post("/spaces/{space_id}/remove")
def remove_space(
    request: Request,
    space_id: str,
    *,
    viewer: ViewerDep,
    form: SignedForm,
    session: SessionDep,
    catalog: CatalogDep,
    dispatcher: DispatcherDep,
) -> Response:
    space = service.get_space(session, actor=viewer.actor, space_id=space_id)
    if form.get("confirm_name") != space.name:
        return space_page(request, session, viewer, catalog, space, confirm_error=True)
    try:
        job = service.remove_space(session, actor=viewer.actor, space_id=space_id)
    except Conflict:
        session.rollback()
        return RedirectResponse(f"/spaces/{space_id}", status_code=303)
    commit_and_send(session, dispatcher)
    return RedirectResponse(f"/jobs/{job.id}" if job else "/services", status_code=303)


@router.post("/spaces/{space_id}/quota")
def change_space_quota(
    request: Request,
    space_id: str,
    *,
    viewer: OperatorDep,
    form: SignedForm,
    session: SessionDep,
    catalog: CatalogDep,
    dispatcher: DispatcherDep,
) -> Response:
    """The limits form: an empty field is the service's own default; only the limits shown are sent."""
    space = service.get_space(session, actor=viewer.actor, space_id=space_id)
    values = {name: form.get(name, "").strip() for name in ("members", "storage_mb") if name in form}
    try:
        body = schemas.SpaceQuotaIn.model_validate({name: value or None for name, value in values.items()})
        job = quota.change_space_quota(
            session,
            actor=viewer.actor,
            catalog=catalog,
            space_id=space_id,
            given=body.model_dump(include=body.model_fields_set),
        ).job
    except ValidationError as exc:
        errors, status_code = pydantic_errors(exc), 422
    except InvalidInput as exc:
        errors, status_code = errors_by_field(exc.errors) or {"": exc.detail}, 422
    except Conflict as exc:
        errors, status_code = {"": exc.detail}, 409
    else:
        commit_and_send(session, dispatcher)
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)
    session.rollback()
    # A limit the form does not show (the service does not enforce it) is said above the form.
    enforced = convert.space(space, catalog).quota.enforced
    shown = {name for name, limit in (("storage_mb", "storage"), ("members", "members")) if limit in enforced}
    errors = {(name if name in shown else ""): message for name, message in errors.items()}
    response = space_page(request, session, viewer, catalog, space, quota_errors=errors, quota_values=values)
    response.status_code = status_code
    return response


@router.post("/spaces/{space_id}/backups")
def back_up_space(
    request: Request,
    space_id: str,
    *,
    viewer: ViewerDep,
    form: SignedForm,
    session: SessionDep,
    catalog: CatalogDep,
    dispatcher: DispatcherDep,
) -> Response:
    return _space_data_job(
        request, session, viewer=viewer, catalog=catalog, dispatcher=dispatcher, space_id=space_id,
        make=lambda: data.request_space_backup(
            session, actor=viewer.actor, catalog=catalog, space_id=space_id
        ),
    )  # fmt: skip


@router.post("/spaces/{space_id}/exports")
def export_space(
    request: Request,
    space_id: str,
    *,
    viewer: ViewerDep,
    form: SignedForm,
    session: SessionDep,
    catalog: CatalogDep,
    dispatcher: DispatcherDep,
) -> Response:
    return _space_data_job(
        request, session, viewer=viewer, catalog=catalog, dispatcher=dispatcher, space_id=space_id,
        make=lambda: request_space_export(
            session, actor=viewer.actor, catalog=catalog, space_id=space_id
        ).job,
    )  # fmt: skip


@router.get("/spaces/{space_id}/exports/{export_id}/archive")
def download_space_export(
    space_id: str, export_id: str, viewer: ViewerDep, session: SessionDep, settings: SettingsDep
) -> StreamingResponse:
    space = service.get_space(session, actor=viewer.actor, space_id=space_id)
    export, path = downloadable(session, settings, actor=viewer.actor, export_id=export_id)
    if export.space_id != space.id:
        raise Conflict("this export is of another space or service")
    return archive_response(settings, export, path)


@router.post("/spaces/{space_id}/restores")
def restore_space(
    request: Request,
    space_id: str,
    *,
    viewer: ViewerDep,
    form: SignedForm,
    session: SessionDep,
    catalog: CatalogDep,
    dispatcher: DispatcherDep,
) -> Response:
    backup_id = form.get("backup", "")[:32]
    return _space_data_job(
        request, session, viewer=viewer, catalog=catalog, dispatcher=dispatcher, space_id=space_id,
        make=lambda: data.request_space_restore(
            session, actor=viewer.actor, catalog=catalog, space_id=space_id, backup_id=backup_id
        ),
    )  # fmt: skip


@router.post("/spaces/{space_id}/move-to-dedicated")
def move_space_to_dedicated(
    request: Request,
    space_id: str,
    *,
    viewer: OperatorDep,
    form: SignedForm,
    session: SessionDep,
    catalog: CatalogDep,
    dispatcher: DispatcherDep,
    settings: SettingsDep,
) -> Response:
    subdomain = form.get("subdomain", "").strip()[:63] or None
    return _space_data_job(
        request, session, viewer=viewer, catalog=catalog, dispatcher=dispatcher, space_id=space_id,
        make=lambda: data.request_move_out(
            session, actor=viewer.actor, catalog=catalog, settings=settings, space_id=space_id,
            subdomain=subdomain,
        ).job,
    )  # fmt: skip


def _space_data_job(
    request: Request,
    session: Session,
    *,
    viewer: Viewer,
    catalog: Catalog,
    dispatcher: Dispatcher,
    space_id: str,
    make: Callable[[], Job],
) -> Response:
    """Queue a job on the space's data and follow it; what stops it is said on the space's page."""
    try:
        job = make()
    except DomainError as exc:
        session.rollback()
        space = service.get_space(session, actor=viewer.actor, space_id=space_id)
        said = "; ".join(error["message"] for error in exc.errors) if exc.errors else exc.detail
        return space_page(request, session, viewer, catalog, space, data_error=said)
    commit_and_send(session, dispatcher)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.get("/operator/spaces")
def space_requests(
    request: Request, viewer: OperatorDep, session: SessionDep, catalog: CatalogDep, notice: str | None = None
) -> Response:
    page = service.list_spaces(session, actor=viewer.actor, tenant_id=None, limit=MAX_LIMIT, cursor=None)
    context = {
        "waiting": [s for s in page.items if s.state == SpaceState.REQUESTED],
        "spaces": [
            s
            for s in page.items
            if s.state not in (SpaceState.REQUESTED, SpaceState.REMOVED, SpaceState.REJECTED)
        ],
        "shareable": [t for t in catalog.all() if "shared" in offered_modes(t.sharing)],
        "dedicated_only": [t for t in catalog.all() if t.sharing is not None and t.sharing.dedicated_only],
        "modes": modes_by_service(session, catalog),
        "catalog": catalog,
        "notice": notice if notice in NOTICES else None,
    }
    return render(request, "operator/spaces.html", context)


NOTICES = frozenset({"modes", "modes-422", "approve-409", "approve-422", "reason"})


@router.post("/operator/spaces/modes/{name}")
def choose_modes(
    name: str,
    viewer: OperatorDep,
    form: SignedForm,
    session: SessionDep,
    catalog: CatalogDep,
) -> Response:
    chosen: list[Mode] = [mode for mode in ("dedicated", "shared") if form.get(f"mode-{mode}") == "on"]
    try:
        set_modes(session, actor=viewer.actor, template=catalog.get(name), modes=chosen)
    except InvalidInput:
        session.rollback()
        return RedirectResponse("/operator/spaces?notice=modes-422", status_code=303)
    session.commit()
    return RedirectResponse("/operator/spaces?notice=modes", status_code=303)


@router.post("/operator/spaces/{space_id}/approve")
def approve_space(
    space_id: str,
    *,
    viewer: OperatorDep,
    form: SignedForm,
    session: SessionDep,
    catalog: CatalogDep,
    dispatcher: DispatcherDep,
    settings: SettingsDep,
) -> Response:
    storage = form.get("storage_mb", "").strip()
    if storage and (not storage.isdigit() or int(storage) < 1):
        return RedirectResponse("/operator/spaces?notice=approve-422", status_code=303)
    try:
        job = service.approve_space(
            session,
            actor=viewer.actor,
            catalog=catalog,
            space_id=space_id,
            quota_storage_mb=int(storage) if storage else None,
            settings=settings,
        )
    except DomainError:
        session.rollback()
        return RedirectResponse("/operator/spaces?notice=approve-409", status_code=303)
    commit_and_send(session, dispatcher)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.post("/operator/spaces/{space_id}/reject")
def reject_space(space_id: str, viewer: OperatorDep, form: SignedForm, session: SessionDep) -> Response:
    reason = form.get("reason", "").strip()[:1000]
    if not reason:
        return RedirectResponse("/operator/spaces?notice=reason", status_code=303)
    service.reject_space(session, actor=viewer.actor, space_id=space_id, reason=reason)
    session.commit()
    return RedirectResponse("/operator/spaces", status_code=303)
