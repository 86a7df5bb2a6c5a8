"""Servers in the portal: their capacity and use, adding one (after its host key is confirmed), draining
and removing. The forms check what the API checks, through the same schema and services."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api.deps import CatalogDep, DispatcherDep, SessionDep, SettingsDep
from api.portal.auth import OperatorDep, SignedForm
from api.portal.forms import pydantic_errors
from api.portal.i18n import N_
from api.portal.measured_charts import server_charts
from api.portal.rendering import render, texts_for
from api.servers import schemas
from api.servers.routes import create_server
from provisioner.errors import Conflict, DomainError, InvalidInput
from provisioner.instances.placement import used_capacities
from provisioner.jobs.queue import commit_and_send
from provisioner.monitoring.metrics import collect_all
from provisioner.pagination import MAX_LIMIT
from provisioner.servers import service
from provisioner.servers.bootstrap import bootstrap_server
from provisioner.servers.draining import drain_server
from provisioner.servers.hostkeys import HostKeyScanError, fingerprint, scan_host_key
from provisioner.servers.removal import remove_server
from provisioner.servers.sshkey import ensure_key
from provisioner.timeutil import utcnow

router = APIRouter(prefix="/operator/servers", include_in_schema=False)
DEFAULT_ROOT = schemas.ServerIn.model_fields["root_dir"].default
FIELDS = (
    "name", "address", "port", "user", "cpu", "memory_mb", "disk_gb", "base_domain", "public_address",
    "root_dir",
)  # fmt: skip
MESSAGES = {
    "name": N_("Lower-case letters, digits and hyphens, starting with a letter."),
    "address": N_("A host name or IP address this machine reaches the server at."),
    "port": N_("A port number from 1 to 65535."),
    "user": N_("A user name on the server, e.g. root."),
    "cpu": N_("A whole number of processor cores, at least 1."),
    "memory_mb": N_("A whole number of megabytes, at least 1."),
    "disk_gb": N_("A whole number of gigabytes, at least 1."),
    "base_domain": N_("A domain name such as apps.lab.example, or empty."),
    "public_address": N_("A host name or IP address visitors reach the server at, or empty."),
    "root_dir": N_("An absolute folder on the server, e.g. /srv/provisioner."),
    "taken": N_("A server with this name exists already."),
    "unreachable": N_("No SSH host key could be read from this address and port. Is sshd running there?"),
}
NOTICES = {"added", "drained", "undrained", "removed", "no-room", "bootstrap-busy", "checked", "check-failed"}
Notice = Annotated[str | None, Query(max_length=20)]
ServerId = Annotated[str | None, Query(max_length=32)]


def _server_in(form: dict[str, str], host_key: str | None) -> schemas.ServerIn:
    """The API's own input schema, so the portal refuses exactly what the API refuses."""
    return schemas.ServerIn.model_validate(
        {
            "name": form.get("name", "").strip(),
            "address": form.get("address", "").strip(),
            "port": form.get("port", "").strip() or 22,
            "user": form.get("user", "").strip() or "root",
            "capacity": {key: form.get(key, "").strip() for key in ("cpu", "memory_mb", "disk_gb")},
            "base_domain": form.get("base_domain", "").strip() or None,
            "public_address": form.get("public_address", "").strip() or None,
            "root_dir": form.get("root_dir", "").strip() or DEFAULT_ROOT,
            "host_key": host_key,
        }
    )


def _field_errors(exc: ValidationError) -> dict[str, str]:
    return {name: MESSAGES[name] for name in pydantic_errors(exc) if name in MESSAGES}


@router.get("")
def servers(
    request: Request,
    *,
    viewer: OperatorDep,
    session: SessionDep,
    catalog: CatalogDep,
    notice: Notice = None,
    server: ServerId = None,
) -> Response:
    """``server`` names the server just added, whose bootstrap the notice offers first."""
    rows = service.list_servers(session, actor=viewer.actor, limit=MAX_LIMIT, cursor=None).items
    used = used_capacities(session, catalog, [row.id for row in rows])
    charts = server_charts(session, texts_for(request), servers=rows, now=utcnow())
    context = {
        "servers": rows,
        "used": used,
        "charts": charts,
        "notice": notice if notice in NOTICES else None,
        "added": next((row for row in rows if notice == "added" and row.id == server), None),
    }
    return render(request, "operator/servers.html", context)


def _add_page(
    request: Request,
    settings: SettingsDep,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    context = {
        "values": values,
        "errors": errors,
        "public_key": ensure_key(settings.resolved_ssh_key_path),
    }
    return render(request, "operator/server_add.html", context, status_code=status_code)


@router.get("/new")
def add_form(request: Request, viewer: OperatorDep, settings: SettingsDep) -> Response:
    values = {"port": "22", "user": "root", "root_dir": DEFAULT_ROOT}
    return _add_page(request, settings, values=values, errors={})


@router.post("/new")
def add(
    request: Request,
    *,
    viewer: OperatorDep,
    form: SignedForm,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Sent without a host key: the server's key is read and shown to be confirmed. Sent again with the
    key the operator confirmed: the server is added with exactly that key (never one read anew)."""
    values = {key: form.get(key, "").strip() for key in FIELDS}
    confirmed = form.get("host_key") or None
    try:
        body = _server_in(form, confirmed)
    except ValidationError as exc:
        return _add_page(request, settings, values=values, errors=_field_errors(exc), status_code=422)
    if service.server_named(session, body.name) is not None:
        return _add_page(
            request, settings, values=values, errors={"name": MESSAGES["taken"]}, status_code=409
        )
    if confirmed is None:
        try:
            host_key = scan_host_key(body.address, body.port, timeout=settings.ssh_connect_timeout_seconds)
        except HostKeyScanError:
            errors = {"address": MESSAGES["unreachable"]}
            return _add_page(request, settings, values=values, errors=errors, status_code=422)
        context = {"values": values, "host_key": host_key, "fingerprint": fingerprint(host_key)}
        return render(request, "operator/server_confirm.html", context)
    try:
        row = create_server(
            session, actor=viewer.actor, body=body, scan_timeout=settings.ssh_connect_timeout_seconds
        )
    except (Conflict, InvalidInput):
        session.rollback()
        return _add_page(
            request, settings, values=values, errors={"name": MESSAGES["taken"]}, status_code=409
        )
    session.commit()
    return RedirectResponse(f"/operator/servers?notice=added&server={row.id}#srv-{row.id}", status_code=303)


@router.post("/{server_id}/drain")
def drain(
    server_id: str,
    *,
    viewer: OperatorDep,
    form: SignedForm,
    session: SessionDep,
    catalog: CatalogDep,
    dispatcher: DispatcherDep,
) -> Response:
    try:
        drain_server(session, actor=viewer.actor, catalog=catalog, server_id=server_id)
    except Conflict:
        session.rollback()  # all or nothing: one instance fits nowhere else
        return RedirectResponse("/operator/servers?notice=no-room", status_code=303)
    commit_and_send(session, dispatcher)
    return RedirectResponse("/operator/servers?notice=drained", status_code=303)


@router.post("/{server_id}/bootstrap")
def bootstrap(
    server_id: str, *, viewer: OperatorDep, form: SignedForm, session: SessionDep, dispatcher: DispatcherDep
) -> Response:
    """Queue the server's bootstrap and follow it live on its job page."""
    try:
        job = bootstrap_server(session, actor=viewer.actor, server_id=server_id)
    except Conflict:
        session.rollback()
        return RedirectResponse("/operator/servers?notice=bootstrap-busy", status_code=303)
    commit_and_send(session, dispatcher)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.post("/{server_id}/check")
def check_now(
    server_id: str, *, viewer: OperatorDep, form: SignedForm, session: SessionDep, settings: SettingsDep
) -> Response:
    """Ask the server now, as the next collection would (SSH, bounded by the connect timeout), instead of
    waiting for it: a new server is "not checked yet" until then."""
    server = service.get_server(session, actor=viewer.actor, server_id=server_id)
    session.close()  # the collection writes in a transaction of its own
    found = collect_all(settings, server_ids=[server.id]).get(server.id)
    notice = "checked" if found is not None and found.reachable else "check-failed"
    return RedirectResponse(f"/operator/servers?notice={notice}#srv-{server_id}", status_code=303)


@router.post("/{server_id}/undrain")
def undrain(
    server_id: str, *, viewer: OperatorDep, form: SignedForm, session: SessionDep, catalog: CatalogDep
) -> Response:
    changes = service.ServerChanges(draining=False)
    service.change_server(session, actor=viewer.actor, catalog=catalog, server_id=server_id, changes=changes)
    session.commit()
    return RedirectResponse("/operator/servers?notice=undrained", status_code=303)


@router.get("/{server_id}/remove")
def confirm_removal(request: Request, server_id: str, viewer: OperatorDep, session: SessionDep) -> Response:
    server = service.get_server(session, actor=viewer.actor, server_id=server_id)
    return render(request, "operator/server_remove.html", {"server": server, "refused": None})


@router.post("/{server_id}/remove")
def remove(
    request: Request, server_id: str, *, viewer: OperatorDep, form: SignedForm, session: SessionDep
) -> Response:
    server = service.get_server(session, actor=viewer.actor, server_id=server_id)
    try:
        remove_server(session, actor=viewer.actor, server_id=server_id)
    except DomainError as exc:
        session.rollback()
        context = {"server": server, "refused": exc.detail}
        return render(request, "operator/server_remove.html", context, status_code=exc.status_code)
    session.commit()
    return RedirectResponse("/operator/servers?notice=removed", status_code=303)
