"""The lab's side: approval queue, every instance with filters, servers and their capacity, jobs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import CatalogDep, DispatcherDep, SessionDep, SettingsDep
from api.portal.auth import OperatorDep, SignedForm
from api.portal.rendering import render
from provisioner.backups.service import backup_statuses
from provisioner.errors import DomainError
from provisioner.instances.search import InstanceFilter, find_instances
from provisioner.instances.service import approve_instance, reject_instance
from provisioner.instances.states import InstanceState
from provisioner.jobs.queue import commit_and_send
from provisioner.jobs.service import list_jobs
from provisioner.jobs.states import JobStatus
from provisioner.notices.channels import mail_configured
from provisioner.pagination import MAX_LIMIT
from provisioner.servers.service import list_servers
from provisioner.tenants.service import list_tenants

router = APIRouter(prefix="/operator", include_in_schema=False)
Filter = Annotated[str | None, Query(max_length=63)]
PAGE = 100
QUEUE_PAGE = 25


@router.get("/requests")
def approval_queue(
    request: Request,
    *,
    viewer: OperatorDep,
    session: SessionDep,
    catalog: CatalogDep,
    notice: Filter = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    # Oldest first, a screenful at a time: each request is a card with two forms.
    waiting = find_instances(
        session,
        actor=viewer.actor,
        where=InstanceFilter(state=InstanceState.REQUESTED.value),
        limit=QUEUE_PAGE,
        cursor=cursor,
    )
    servers = list_servers(session, actor=viewer.actor, limit=MAX_LIMIT, cursor=None).items
    context = {
        "waiting": waiting.items,
        "next": waiting.next,
        "servers": servers,
        "catalog": catalog,
        "notice": notice,
    }
    return render(request, "operator/requests.html", context)


@router.post("/requests/{instance_id}/approve")
def approve(
    instance_id: str,
    *,
    viewer: OperatorDep,
    form: SignedForm,
    session: SessionDep,
    catalog: CatalogDep,
    dispatcher: DispatcherDep,
    settings: SettingsDep,
) -> Response:
    try:
        job = approve_instance(
            session,
            actor=viewer.actor,
            catalog=catalog,
            instance_id=instance_id,
            server_id=form.get("server") or None,
            settings=settings,
        )
    except DomainError as exc:
        session.rollback()
        return RedirectResponse(f"/operator/requests?notice=approve-{exc.status_code}", status_code=303)
    commit_and_send(session, dispatcher)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.post("/requests/{instance_id}/reject")
def reject(
    instance_id: str, viewer: OperatorDep, form: SignedForm, session: SessionDep, settings: SettingsDep
) -> Response:
    reason = form.get("reason", "").strip()[:1000]
    if not reason:
        return RedirectResponse(f"/operator/requests?notice=reason-{instance_id}", status_code=303)
    reject_instance(session, actor=viewer.actor, instance_id=instance_id, reason=reason)
    session.commit()  # the association's admins are told by a worker, in their language
    notice = "rejected" if mail_configured(session, settings) else "rejected-unmailed"
    return RedirectResponse(f"/operator/requests?notice={notice}", status_code=303)


@router.get("/instances")
def all_instances(
    request: Request,
    *,
    viewer: OperatorDep,
    session: SessionDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    tenant: Filter = None,
    service: Filter = None,
    state: Filter = None,
    health: Filter = None,
    server: Filter = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    where = InstanceFilter(tenant_id=tenant, template=service, state=state, health=health, server_id=server)
    page = find_instances(session, actor=viewer.actor, where=where, limit=PAGE, cursor=cursor)
    ids = [row.id for row in page.items]
    context = {
        "page": page,
        "backups": backup_statuses(session, settings, instance_ids=ids),
        "where": where,
        "tenants": list_tenants(session, actor=viewer.actor, limit=MAX_LIMIT, cursor=None).items,
        "servers": list_servers(session, actor=viewer.actor, limit=MAX_LIMIT, cursor=None).items,
        "services": catalog.all(),
        "states": list(InstanceState),
        "healths": ["healthy", "unhealthy", "unknown"],
    }
    return render(request, "operator/instances.html", context)


@router.get("/jobs")
def jobs(
    request: Request,
    viewer: OperatorDep,
    session: SessionDep,
    status: Filter = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    chosen = JobStatus(status) if status in set(JobStatus) else None
    page = list_jobs(session, actor=viewer.actor, instance_id=None, status=chosen, limit=PAGE, cursor=cursor)
    context = {"page": page, "status": chosen, "statuses": list(JobStatus)}
    return render(request, "operator/jobs.html", context)
