"""The lab's records and limits: the audit log (with its CSV export) and associations with their quotas."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.audit.routes import csv_download
from api.deps import CatalogDep, SessionDep, SettingsDep
from api.portal import audit_words
from api.portal.auth import OperatorDep, SignedForm
from api.portal.rendering import render, texts_for
from provisioner.audit.log import export_query, list_entries
from provisioner.instances import footprint
from provisioner.pagination import MAX_LIMIT
from provisioner.tenants.quotas import quota_of, usage_by_tenant
from provisioner.tenants.service import QUOTA_COLUMNS, get_tenant, list_tenants, set_quota

router = APIRouter(prefix="/operator", include_in_schema=False)
TenantFilter = Annotated[str | None, Query(max_length=32)]
QUOTA_LIMIT = 1_000_000


@router.get("/audit")
def audit_log(
    request: Request,
    viewer: OperatorDep,
    session: SessionDep,
    tenant: TenantFilter = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    page = list_entries(session, actor=viewer.actor, tenant_id=tenant or None, limit=100, cursor=cursor)
    tenants = list_tenants(session, actor=viewer.actor, limit=MAX_LIMIT, cursor=None).items
    texts = texts_for(request)
    context = {
        "page": page,
        "tenant": tenant or "",
        "tenants": tenants,
        "described": lambda entry: audit_words.described(texts, entry.action, entry.target_id),
        "ended": lambda entry: audit_words.outcome(texts, entry.outcome),
    }
    return render(request, "operator/audit.html", context)


@router.get("/audit.csv")
def audit_export(viewer: OperatorDep, settings: SettingsDep, tenant: TenantFilter = None) -> Response:
    return csv_download(settings, export_query(viewer.actor, tenant or None))


def _tenants_page(
    request: Request,
    viewer: OperatorDep,
    session: SessionDep,
    *,
    settings: SettingsDep,
    catalog: CatalogDep,
    errors: dict[str, dict[str, bool]] | None = None,
    changed: str | None = None,
    status_code: int = 200,
) -> Response:
    tenants = list_tenants(session, actor=viewer.actor, limit=MAX_LIMIT, cursor=None).items
    used = usage_by_tenant(session, catalog, [t.id for t in tenants])
    rows = [(t, used[t.id], quota_of(settings, t)) for t in tenants]
    context = {
        "rows": rows,
        "errors": errors or {},
        "changed": changed,
        "keys": list(QUOTA_COLUMNS),
        "columns": QUOTA_COLUMNS,
        "measured": footprint.measured_by_tenant(session, settings, actor=viewer.actor),
        "coefficients": footprint,
    }
    return render(request, "operator/tenants.html", context, status_code=status_code)


@router.get("/tenants")
def tenants_page(
    request: Request, viewer: OperatorDep, session: SessionDep, settings: SettingsDep, catalog: CatalogDep
) -> Response:
    return _tenants_page(request, viewer, session, settings=settings, catalog=catalog)


def _quota_value(raw: str) -> int | str | None:
    """A whole number, None for an empty field (the lab's default), or the text itself when it is neither."""
    if raw.strip() == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        return raw
    return value if 0 <= value <= QUOTA_LIMIT else raw


@router.post("/tenants/{tenant_id}/quota")
def change_quota(
    request: Request,
    tenant_id: str,
    *,
    viewer: OperatorDep,
    form: SignedForm,
    session: SessionDep,
    settings: SettingsDep,
    catalog: CatalogDep,
) -> Response:
    tenant = get_tenant(session, actor=viewer.actor, tenant_id=tenant_id)
    values = {key: _quota_value(form.get(key, "")) for key in QUOTA_COLUMNS}
    wrong = {key: True for key, value in values.items() if isinstance(value, str)}
    if wrong:
        return _tenants_page(
            request,
            viewer,
            session,
            settings=settings,
            catalog=catalog,
            errors={tenant.id: wrong},
            status_code=422,
        )
    changes = {key: value for key, value in values.items() if not isinstance(value, str)}
    set_quota(session, actor=viewer.actor, tenant_id=tenant.id, changes=changes)
    session.commit()
    return _tenants_page(request, viewer, session, settings=settings, catalog=catalog, changed=tenant.id)
