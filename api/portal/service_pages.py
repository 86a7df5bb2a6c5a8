"""The association's side: catalog, request form, its services, credentials once, removal."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.deps import CatalogDep, DispatcherDep, SessionDep, SettingsDep
from api.instances.schemas import InstanceIn
from api.portal.auth import SignedForm, ViewerDep, viewer_of
from api.portal.backup_schedule_pages import backup_summary
from api.portal.forms import errors_by_field, parameter_fields, parameters_from, pydantic_errors
from api.portal.i18n import choose_language
from api.portal.measured_charts import service_charts
from api.portal.rendering import render, texts_for
from api.portal.space_pages import modes_by_service
from provisioner.backups.service import list_backups
from provisioner.catalog.loader import Catalog
from provisioner.catalog.model import Template
from provisioner.catalog.parameters import validate_parameters
from provisioner.config import Settings
from provisioner.errors import Conflict, InvalidInput
from provisioner.exports.service import list_exports
from provisioner.instances import footprint, operations
from provisioner.instances.credentials import CredentialsGone, logins_kept_from, reveal_credentials
from provisioner.instances.search import InstanceFilter, find_instances
from provisioner.instances.service import get_instance, request_instance
from provisioner.instances.states import InstanceState
from provisioner.jobs.queue import commit_and_send
from provisioner.jobs.service import list_jobs
from provisioner.models import Instance
from provisioner.pagination import MAX_LIMIT
from provisioner.servers.service import list_servers
from provisioner.spaces.service import list_spaces
from provisioner.spaces.states import SpaceState
from provisioner.tenants.service import list_tenants
from provisioner.timeutil import utcnow

router = APIRouter(include_in_schema=False)
# States in which an instance holds resources on a server.
HOLDING = frozenset(
    {
        InstanceState.APPROVED,
        InstanceState.PROVISIONING,
        InstanceState.RUNNING,
        InstanceState.FAILED,
        InstanceState.UPDATING,
        InstanceState.BACKING_UP,
        InstanceState.RESTORING,
        InstanceState.REMOVING,
    }
)


@router.get("/")
def home(request: Request, session: SessionDep, catalog: CatalogDep) -> Response:
    viewer = viewer_of(request, session)
    if viewer is None:
        return render(request, "home.html", {"services": catalog.all()})
    return RedirectResponse("/operator/requests" if viewer.is_operator else "/services", status_code=303)


@router.get("/catalog")
def catalog_page(request: Request, viewer: ViewerDep, session: SessionDep, catalog: CatalogDep) -> Response:
    context = {"services": catalog.all(), "modes": modes_by_service(session, catalog)}
    return render(request, "catalog.html", context)


def _request_page(
    request: Request,
    session: SessionDep,
    template: Template,
    *,
    viewer: ViewerDep,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    language = choose_language(request)
    given = {key.removeprefix("param-"): value for key, value in values.items()}
    fields = parameter_fields(template, language, given if values else {})
    for field in fields:
        field.error = errors.get(field.name)
    tenants = (
        list_tenants(session, actor=viewer.actor, limit=MAX_LIMIT, cursor=None).items
        if viewer.is_operator
        else []
    )
    context = {
        "service": template,
        "fields": fields,
        "values": values,
        "errors": errors,
        "tenants": tenants,
        "general_error": errors.get(""),
    }
    return render(request, "request.html", context, status_code=status_code)


@router.get("/catalog/{name}/request")
def request_form(
    request: Request, name: str, viewer: ViewerDep, session: SessionDep, catalog: CatalogDep
) -> Response:
    return _request_page(request, session, catalog.get(name), viewer=viewer, values={}, errors={})


@router.post("/catalog/{name}/request")
def send_request(
    request: Request,
    name: str,
    *,
    viewer: ViewerDep,
    form: SignedForm,
    session: SessionDep,
    catalog: CatalogDep,
    settings: SettingsDep,
) -> Response:
    template = catalog.get(name)
    parameters = parameters_from(template, form)
    try:
        body = InstanceIn(
            template=template.name,
            name=form.get("name", ""),
            parameters=parameters,
            tenant=form.get("tenant") or None,
        )
        instance = request_instance(
            session,
            actor=viewer.actor,
            catalog=catalog,
            template=body.template,
            name=body.name,
            parameters=body.parameters,
            tenant_id=body.tenant,
            settings=settings,
        )
    except ValidationError as exc:
        errors = pydantic_errors(exc) | _parameter_errors(template, parameters)
    except InvalidInput as exc:
        errors = errors_by_field(exc.errors) or {"": exc.detail}
    except Conflict as exc:
        errors = {"name": exc.detail}
    else:
        session.commit()
        return RedirectResponse(f"/services/{instance.id}", status_code=303)
    session.rollback()
    return _request_page(
        request, session, template, viewer=viewer, values=form, errors=errors, status_code=422
    )


def _parameter_errors(template: Template, parameters: dict[str, Any]) -> dict[str, str]:
    """The parameters' own findings too, so that one sending shows every field that needs a change."""
    try:
        validate_parameters(template, parameters)
    except InvalidInput as exc:
        return errors_by_field(exc.errors)
    return {}


def footprints(catalog: Catalog, rows: list[Instance]) -> dict[str, footprint.Footprint]:
    return {row.id: footprint.reserved(catalog, row) for row in rows if row.state in HOLDING}


def measured_footprints(
    session: Session, settings: Settings, rows: list[Instance]
) -> dict[str, footprint.Footprint]:
    return footprint.measured(session, settings, [row for row in rows if row.state in HOLDING])


@router.get("/services")
def my_services(
    request: Request, viewer: ViewerDep, session: SessionDep, catalog: CatalogDep, settings: SettingsDep
) -> Response:
    rows = find_instances(
        session, actor=viewer.actor, where=InstanceFilter(), limit=MAX_LIMIT, cursor=None
    ).items
    shown = [row for row in rows if row.state != InstanceState.REMOVED]
    spaces = list_spaces(session, actor=viewer.actor, tenant_id=None, limit=MAX_LIMIT, cursor=None).items
    held = footprints(catalog, shown)
    measured = measured_footprints(session, settings, shown)
    context = {
        "instances": shown,
        "spaces": [space for space in spaces if space.state != SpaceState.REMOVED],
        "catalog": catalog,
        "footprints": held,
        "total": footprint.total(held.values()),
        "measured_total": footprint.total(measured.values()) if measured else None,
        "measured_count": len(measured),
        "coefficients": footprint,
    }
    return render(request, "services.html", context)


def detail_page(
    request: Request,
    session: SessionDep,
    instance: Instance,
    *,
    catalog: Catalog,
    viewer: ViewerDep,
    extra: dict[str, Any] | None = None,
) -> Response:
    template = catalog.get(instance.template)
    keeps_data = template.keeps_data
    settings = request.app.state.settings
    jobs = list_jobs(
        session, actor=viewer.actor, instance_id=instance.id, status=None, limit=20, cursor=None
    ).items
    context = {
        "instance": instance,
        "service": template,
        "shows_credentials": any(secret.show for secret in template.secrets.values()),
        "logins_kept_from": logins_kept_from(session, instance=instance, template=template),
        "jobs": sorted(jobs, key=lambda job: job.created_at, reverse=True),
        "backups": list_backups(session, actor=viewer.actor, instance_id=instance.id),
        "keeps_data": keeps_data,
        "exports": list_exports(session, actor=viewer.actor, instance_id=instance.id)[:1],
        "exportable": template.exports is not None,
        "export_keep_hours": settings.export_keep_hours,
        "backup_schedule": backup_summary(request, session, settings, viewer, instance)
        if keeps_data
        else None,
        "footprint": footprints(catalog, [instance]).get(instance.id),
        # The app's settings, so that pages of other modules call this without passing them along.
        "measured": measured_footprints(session, request.app.state.settings, [instance]).get(instance.id),
        "coefficients": footprint,
        "charts": service_charts(session, texts_for(request), instance=instance, now=utcnow())
        if instance.state in HOLDING
        else [],
        "update_targets": template.update_targets(instance.version),
        # Where an operator may move it: every other server (placement says whether it fits).
        "other_servers": [
            server
            for server in list_servers(session, actor=viewer.actor, limit=MAX_LIMIT, cursor=None).items
            if server.id != instance.server_id
        ]
        if viewer.is_operator
        else [],
        **(extra or {}),
    }
    return render(request, "service.html", context)


@router.get("/services/{instance_id}")
def service_page(
    request: Request, instance_id: str, viewer: ViewerDep, session: SessionDep, catalog: CatalogDep
) -> Response:
    instance = get_instance(session, actor=viewer.actor, instance_id=instance_id)
    return detail_page(request, session, instance, catalog=catalog, viewer=viewer)


@router.post("/services/{instance_id}/credentials")
def show_credentials(
    request: Request,
    instance_id: str,
    *,
    viewer: ViewerDep,
    form: SignedForm,
    session: SessionDep,
    catalog: CatalogDep,
    settings: SettingsDep,
) -> Response:
    instance = get_instance(session, actor=viewer.actor, instance_id=instance_id)
    try:
        shown = reveal_credentials(
            session, settings, actor=viewer.actor, instance=instance, template=catalog.get(instance.template)
        )
    except (CredentialsGone, Conflict) as exc:
        session.rollback()
        gone = {"credentials_gone": exc.status_code}
        return detail_page(request, session, instance, catalog=catalog, viewer=viewer, extra=gone)
    session.commit()
    response = detail_page(
        request, session, instance, catalog=catalog, viewer=viewer, extra={"credentials": shown}
    )
    response.headers["Cache-Control"] = "no-store"  # the page holds a password
    return response


@router.get("/services/{instance_id}/remove")
def confirm_removal(
    request: Request, instance_id: str, viewer: ViewerDep, session: SessionDep, catalog: CatalogDep
) -> Response:
    instance = get_instance(session, actor=viewer.actor, instance_id=instance_id)
    template = catalog.get(instance.template)
    context = {"instance": instance, "service": template, "keeps_data": template.keeps_data}
    return render(request, "remove.html", context)


@router.post("/services/{instance_id}/remove")
def remove(
    request: Request,
    instance_id: str,
    *,
    viewer: ViewerDep,
    form: SignedForm,
    session: SessionDep,
    dispatcher: DispatcherDep,
) -> Response:
    instance = get_instance(session, actor=viewer.actor, instance_id=instance_id)
    if form.get("confirm_name") != instance.name:
        context = {"instance": instance, "confirm_error": True}
        return render(request, "remove.html", context, status_code=422)
    job = operations.remove_instance(session, actor=viewer.actor, instance_id=instance_id)
    commit_and_send(session, dispatcher)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)
