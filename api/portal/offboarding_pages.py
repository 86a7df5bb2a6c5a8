"""Offboarding an association in the portal: its admin (after the lab's waiting period) or an operator
(at once) asks for it, having been offered the final export; it may be canceled while it waits, an
operator resumes one that stopped, and operators read the deletion record once it is done.

The forms check what the API checks, through the same services."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from api.deps import DispatcherDep, SessionDep, SettingsDep
from api.portal.auth import OperatorDep, SignedForm, ViewerDep
from api.portal.rendering import render
from provisioner.config import Settings
from provisioner.errors import DomainError, NotFound
from provisioner.instances.states import InstanceState
from provisioner.jobs.queue import commit_and_send
from provisioner.models import Export, Instance, Offboarding, Tenant
from provisioner.notices.certificate import certificate_values
from provisioner.offboarding import service
from provisioner.tenants.service import get_tenant

router = APIRouter(include_in_schema=False)
GONE = (InstanceState.REMOVED.value, InstanceState.REJECTED.value)


def _page(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    tenant: Tenant,
    settings: Settings,
    **extra: object,
) -> Response:
    try:
        current: Offboarding | None = service.get_offboarding(
            session, actor=viewer.actor, tenant_id=tenant.id
        )
    except NotFound:
        current = None
    services = (
        session.scalars(
            select(Instance)
            .where(Instance.tenant_id == tenant.id, Instance.state.not_in(GONE))
            .order_by(Instance.name)
        )
        .unique()
        .all()
    )
    under_way = current is not None and current.state not in ("completed", "canceled")
    # What goes into the record as its final export: the ready ones, newest first.
    ready = session.scalars(
        select(Export)
        .where(Export.tenant_id == tenant.id, Export.state == "ready")
        .order_by(Export.created_at.desc())
    ).unique()
    context = {"tenant": tenant, "offboarding": current, "under_way": under_way, "services": services,
               "ready_exports": list(ready), "wait_hours": settings.offboarding_wait_hours,
               "retention_days": settings.offboarding_backup_retention_days,
               "error": None, "values": {}, **extra}  # fmt: skip
    status_code = 422 if extra.get("error") else 200
    return render(request, "offboarding.html", context, status_code=status_code)


@router.get("/associations/{tenant_id}/offboarding")
def offboarding_page(
    request: Request, tenant_id: str, viewer: ViewerDep, session: SessionDep, settings: SettingsDep
) -> Response:
    tenant = get_tenant(session, actor=viewer.actor, tenant_id=tenant_id)
    viewer.actor.require_write(tenant.id, "tenant")
    return _page(request, session, viewer, tenant, settings)


@router.post("/associations/{tenant_id}/offboarding")
def offboard(
    request: Request,
    tenant_id: str,
    *,
    viewer: ViewerDep,
    form: SignedForm,
    session: SessionDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
) -> Response:
    tenant = get_tenant(session, actor=viewer.actor, tenant_id=tenant_id)
    values = {
        "confirm": form.get("confirm", "").strip(),
        "delete_backups_now": form.get("delete_backups_now"),
    }
    try:
        service.request_offboarding(
            session,
            settings,
            actor=viewer.actor,
            tenant_id=tenant.id,
            confirm_slug=values["confirm"],
            delete_backups_now=values["delete_backups_now"] == "yes",
        )
    except DomainError as exc:
        session.rollback()
        return _page(request, session, viewer, tenant, settings, error=exc.detail, values=values)
    commit_and_send(session, dispatcher)
    return RedirectResponse(f"/associations/{tenant.id}/offboarding", status_code=303)


@router.post("/associations/{tenant_id}/offboarding/cancel")
def cancel(tenant_id: str, *, viewer: ViewerDep, form: SignedForm, session: SessionDep) -> Response:
    service.cancel_offboarding(session, actor=viewer.actor, tenant_id=tenant_id)
    session.commit()
    return RedirectResponse(f"/associations/{tenant_id}/offboarding", status_code=303)


@router.post("/associations/{tenant_id}/offboarding/resume")
def resume(
    tenant_id: str, *, viewer: OperatorDep, form: SignedForm, session: SessionDep, dispatcher: DispatcherDep
) -> Response:
    service.resume_offboarding(session, actor=viewer.actor, tenant_id=tenant_id)
    commit_and_send(session, dispatcher)
    return RedirectResponse(f"/associations/{tenant_id}/offboarding", status_code=303)


@router.post("/associations/{tenant_id}/offboarding/delete-backups-now")
def delete_offboarded_backups_now(
    tenant_id: str, *, viewer: ViewerDep, form: SignedForm, session: SessionDep, dispatcher: DispatcherDep
) -> Response:
    service.delete_backups_now(session, actor=viewer.actor, tenant_id=tenant_id)
    commit_and_send(session, dispatcher)
    return RedirectResponse(f"/associations/{tenant_id}/offboarding", status_code=303)


@router.get("/operator/deletion-records")
def deletion_records(request: Request, viewer: OperatorDep, session: SessionDep) -> Response:
    records = service.deletion_records(session, actor=viewer.actor)
    return render(request, "operator/deletion_records.html", {"records": records})


@router.get("/operator/deletion-records/{tenant_id}")
def deletion_record(request: Request, tenant_id: str, viewer: OperatorDep, session: SessionDep) -> Response:
    record = service.deletion_record(session, actor=viewer.actor, tenant_id=tenant_id)
    return render(
        request, "operator/deletion_record.html", {"record": record, "shown": certificate_values(record)}
    )
