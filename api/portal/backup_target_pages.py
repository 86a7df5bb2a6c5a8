"""Backup targets in the portal: where restic repositories live, the key to install on an SFTP backup
server, and adding one (an SFTP server's host key confirmed first). The form checks what the API checks,
through the same schema and service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api.backups import schemas as backup_schemas
from api.deps import SessionDep, SettingsDep
from api.portal.auth import OperatorDep, SignedForm
from api.portal.forms import errors_by_field, pydantic_errors
from api.portal.i18n import N_
from api.portal.rendering import render
from provisioner.backups import targets
from provisioner.backups.reach import Finding, Reach, check_target
from provisioner.errors import Conflict, DomainError, InvalidInput
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


# What a connection test found, in words an operator acts on; never what the target printed.
FINDINGS = {
    Finding.REACHED: N_("Reached: the lab gets in with the credentials it keeps for this target."),
    Finding.UNREACHABLE: N_(
        "Nothing answers at this address from the lab's machine. Is the address right, "
        "is the service running, does a firewall let the lab through?"
    ),
    Finding.HOST_KEY_CHANGED: N_(
        "The backup server answered with another host key than the one confirmed "
        "when the target was added. If the server was set up again, add the target anew; otherwise someone "
        "may stand in between."
    ),
    Finding.CREDENTIALS_REFUSED: N_(
        "It answered but refused the lab's credentials. For SFTP: is the key "
        "shown above in the user's authorized_keys?"
    ),
    Finding.FOLDER_MISSING: N_("The folder (SFTP) or bucket (S3) does not exist there."),
    Finding.NOT_WRITABLE: N_("The lab may not write into the folder."),
    Finding.LISTENER_SILENT: N_(
        "The full-access listener answers, the servers' append-only listener does not."
    ),
    Finding.HTPASSWD_NOT_WRITABLE: N_(
        "The control plane cannot write the htpasswd file of the servers' listener."
    ),
    Finding.FAILED: N_("It answered, but not in a way that lets backups work."),
}


def _list_page(
    request: Request,
    session: SessionDep,
    viewer: OperatorDep,
    *,
    added: str | None,
    removed: str | None = None,
    checked: Reach | None = None,
    checked_id: str | None = None,
) -> Response:
    rows = targets.list_targets(session, actor=viewer.actor)
    context = {
        "targets": rows, "added": added, "removed": removed, "checked": checked, "checked_id": checked_id,
        "finding": FINDINGS[checked.finding] if checked else None,
    }  # fmt: skip
    return render(request, "operator/backup_targets.html", context)


@router.get("")
def backup_targets(
    request: Request, viewer: OperatorDep, session: SessionDep, added: Notice = None, removed: Notice = None
) -> Response:
    return _list_page(request, session, viewer, added=added, removed=removed)


@router.post("/{target_id}/check")
def check(
    request: Request,
    target_id: str,
    *,
    viewer: OperatorDep,
    form: SignedForm,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Test the connection now and show what was found on the target's card."""
    target = targets.get_target(session, actor=viewer.actor, target_id=target_id)
    found = check_target(settings, target)
    return _list_page(request, session, viewer, added=None, checked=found, checked_id=target.id)


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


@router.get("/{target_id}/remove")
def confirm_removal(request: Request, target_id: str, viewer: OperatorDep, session: SessionDep) -> Response:
    target = targets.get_target(session, actor=viewer.actor, target_id=target_id)
    return render(request, "operator/backup_target_remove.html", {"target": target, "refused": None})


@router.post("/{target_id}/remove")
def remove(
    request: Request, target_id: str, *, viewer: OperatorDep, form: SignedForm, session: SessionDep
) -> Response:
    """The same service as ``DELETE /api/v1/backup-targets/{id}``: refused while repositories live there."""
    target = targets.get_target(session, actor=viewer.actor, target_id=target_id)
    try:
        targets.remove_target(session, actor=viewer.actor, target_id=target_id)
    except DomainError as exc:
        session.rollback()
        context = {"target": target, "refused": exc.detail}
        return render(request, "operator/backup_target_remove.html", context, status_code=exc.status_code)
    session.commit()
    return RedirectResponse("/operator/backup-targets?removed=1", status_code=303)
