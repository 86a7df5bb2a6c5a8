"""Backup targets in the portal: where restic repositories live, the key to install on an SFTP backup
server, and adding one (an SFTP server's host key confirmed first). The form checks what the API checks,
through the same schema and service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api import backup_schemas
from api.deps import SessionDep, SettingsDep
from api.portal.auth import OperatorDep, SignedForm
from api.portal.forms import errors_by_field, pydantic_errors
from api.portal.i18n import N_
from api.portal.rendering import render
from provisioner.backups import targets
from provisioner.errors import Conflict, InvalidInput
from provisioner.servers.hostkeys import HostKeyScanError, fingerprint, scan_host_key

router = APIRouter(prefix="/operator/backup-targets", include_in_schema=False)
FIELDS = ("name", "kind", "address", "port", "user", "path", "s3_endpoint", "s3_access_key_id")
SECRET_FIELDS = ("s3_secret_access_key",)  # never sent back into a page
MESSAGES = {
    "name": N_("Lower-case letters, digits and hyphens, starting with a letter."),
    "kind": N_("Choose SFTP or S3."),
    "address": N_("The backup server's host name or IP address."),
    "port": N_("A port number from 1 to 65535."),
    "user": N_("A user name on the backup server."),
    "path": N_("SFTP: an absolute folder such as /srv/backups. S3: the bucket, optionally bucket/prefix."),
    "s3_endpoint": N_("The S3 service's address (http:// or https://, no path), with both access keys."),
    "s3_access_key_id": N_("The access key id, up to 200 characters."),
    "host_key": N_("The backup server's host key could not be used."),
    "taken": N_("A backup target with this name exists already."),
    "unreachable": N_("No SSH host key could be read from this address and port. Is sshd running there?"),
}
Notice = Annotated[str | None, Query(max_length=20)]


@router.get("")
def backup_targets(
    request: Request, viewer: OperatorDep, session: SessionDep, added: Notice = None
) -> Response:
    rows = targets.list_targets(session, actor=viewer.actor)
    return render(request, "operator/backup_targets.html", {"targets": rows, "added": added})


def _add_page(request: Request, values: dict[str, str], errors: dict[str, str], status_code: int) -> Response:
    context = {"values": values, "errors": errors}
    return render(request, "operator/backup_target_add.html", context, status_code=status_code)


@router.get("/new")
def add_form(request: Request, viewer: OperatorDep) -> Response:
    return _add_page(request, {"kind": "sftp", "port": "22"}, {}, 200)


def _body(form: dict[str, str], host_key: str | None) -> backup_schemas.BackupTargetIn:
    given = {key: form.get(key, "").strip() or None for key in (*FIELDS, *SECRET_FIELDS)}
    given["port"] = given["port"] or "22"
    return backup_schemas.BackupTargetIn.model_validate({**given, "host_key": host_key})


@router.post("/new")
def add(
    request: Request, *, viewer: OperatorDep, form: SignedForm, session: SessionDep, settings: SettingsDep
) -> Response:
    """An SFTP target is shown with its server's host key first, and added with exactly that key."""
    values = {key: form.get(key, "").strip() for key in FIELDS}
    confirmed = form.get("host_key") or None
    try:
        body = _body(form, confirmed)
    except ValidationError as exc:
        errors = {name: MESSAGES[name] for name in pydantic_errors(exc) if name in MESSAGES}
        return _add_page(request, values, errors or {"": MESSAGES["kind"]}, 422)
    if body.kind == "sftp" and confirmed is None and body.address:
        try:
            host_key = scan_host_key(body.address, body.port, timeout=settings.ssh_connect_timeout_seconds)
        except HostKeyScanError:
            return _add_page(request, values, {"address": MESSAGES["unreachable"]}, 422)
        context = {
            "values": values,
            "host_key": host_key,
            "fingerprint": fingerprint(host_key),
            "action": "/operator/backup-targets/new",
            "again": "/operator/backup-targets/new",
        }
        return render(request, "operator/server_confirm.html", context)
    try:
        row = targets.add_target(session, actor=viewer.actor, settings=settings, **body.model_dump())
    except InvalidInput as exc:
        session.rollback()
        found = errors_by_field(exc.errors)
        return _add_page(request, values, {name: MESSAGES[name] for name in found if name in MESSAGES}, 422)
    except Conflict:
        session.rollback()
        return _add_page(request, values, {"name": MESSAGES["taken"]}, 409)
    session.commit()
    return RedirectResponse(f"/operator/backup-targets?added={row.id}#target-{row.id}", status_code=303)
