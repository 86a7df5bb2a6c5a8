"""Associations in the portal: adding one, and its API tokens (each shown once, when it is made).

The forms check what the API checks, through the same schemas and services."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api.accounts.schemas import TokenIn
from api.deps import SessionDep
from api.portal.auth import OperatorDep, SignedForm
from api.portal.forms import pydantic_errors
from api.portal.i18n import N_
from api.portal.rendering import render
from api.tenants import schemas
from provisioner.auth.actor import Role
from provisioner.auth.tokens import list_tokens, revoke_token
from provisioner.errors import Conflict
from provisioner.models import Tenant
from provisioner.pagination import MAX_LIMIT
from provisioner.tenants.service import create_tenant, get_tenant, issue_tenant_token

router = APIRouter(prefix="/operator/tenants", include_in_schema=False)
TENANT_FIELDS = ("slug", "name", "contact_email", "language")
TOKEN_FIELDS = ("name", "role", "expires_in_days")
MESSAGES = {
    "slug": N_("Lower-case letters, digits and hyphens, starting with a letter, at most 40."),
    "name": N_("The association's name, 1 to 200 characters."),
    "contact_email": N_("An e-mail address like board@verein.example."),
    "taken": N_("An association with this short name exists already."),
    "language": N_("Choose German, English or the lab's language."),
    "token_name": N_("What the token is for, 1 to 100 characters."),
    "role": N_("Choose admin or member."),
    "expires_in_days": N_("A whole number of days from 1 to 365."),
}


@router.get("/new")
def add_form(request: Request, viewer: OperatorDep) -> Response:
    return render(request, "operator/tenant_add.html", {"values": {}, "errors": {}})


@router.post("/new")
def add(request: Request, *, viewer: OperatorDep, form: SignedForm, session: SessionDep) -> Response:
    values = {key: form.get(key, "").strip() for key in TENANT_FIELDS}
    try:
        body = schemas.TenantIn.model_validate({**values, "language": values["language"] or None})
        tenant = create_tenant(
            session,
            actor=viewer.actor,
            slug=body.slug,
            name=body.name,
            contact_email=body.contact_email,
            language=body.language,
        )
    except ValidationError as exc:
        errors = {name: MESSAGES[name] for name in pydantic_errors(exc) if name in TENANT_FIELDS}
    except Conflict:
        errors = {"slug": MESSAGES["taken"]}
    else:
        session.commit()
        return RedirectResponse(f"/operator/tenants/{tenant.id}/tokens?created=1", status_code=303)
    session.rollback()
    return render(request, "operator/tenant_add.html", {"values": values, "errors": errors}, status_code=422)


def _tokens_page(
    request: Request,
    session: SessionDep,
    viewer: OperatorDep,
    tenant: Tenant,
    *,
    extra: dict[str, object],
    status_code: int = 200,
) -> Response:
    tokens = list_tokens(session, actor=viewer.actor, limit=MAX_LIMIT, cursor=None, tenant_id=tenant.id).items
    context = {"tenant": tenant, "tokens": tokens, "values": {"expires_in_days": "90"}, "errors": {}, **extra}
    response = render(request, "operator/tenant_tokens.html", context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"  # a new token is on it once: kept by no cache
    return response


@router.get("/{tenant_id}/tokens")
def tokens(
    request: Request, tenant_id: str, viewer: OperatorDep, session: SessionDep, created: bool = False
) -> Response:
    tenant = get_tenant(session, actor=viewer.actor, tenant_id=tenant_id)
    return _tokens_page(request, session, viewer, tenant, extra={"created": created})


@router.post("/{tenant_id}/tokens")
def new_token(
    request: Request, tenant_id: str, *, viewer: OperatorDep, form: SignedForm, session: SessionDep
) -> Response:
    tenant = get_tenant(session, actor=viewer.actor, tenant_id=tenant_id)
    values = {key: form.get(key, "").strip() for key in TOKEN_FIELDS}
    try:
        body = TokenIn.model_validate(values)
    except ValidationError as exc:
        errors = {
            "token_name" if name == "name" else name: MESSAGES["token_name" if name == "name" else name]
            for name in pydantic_errors(exc)
            if name in TOKEN_FIELDS
        }
        extra: dict[str, object] = {"values": values, "errors": errors}
        return _tokens_page(request, session, viewer, tenant, extra=extra, status_code=422)
    row, plain = issue_tenant_token(
        session,
        actor=viewer.actor,
        tenant_id=tenant.id,
        role=Role(body.role),
        name=body.name,
        lifetime=timedelta(days=body.expires_in_days),
    )
    session.commit()
    return _tokens_page(
        request, session, viewer, tenant, extra={"new_token": plain, "new_token_name": row.name}
    )


@router.post("/{tenant_id}/tokens/{token_id}/revoke")
def revoke(
    tenant_id: str, token_id: str, *, viewer: OperatorDep, form: SignedForm, session: SessionDep
) -> Response:
    tenant = get_tenant(session, actor=viewer.actor, tenant_id=tenant_id)
    revoke_token(session, actor=viewer.actor, token_id=token_id)
    session.commit()
    return RedirectResponse(f"/operator/tenants/{tenant.id}/tokens", status_code=303)
