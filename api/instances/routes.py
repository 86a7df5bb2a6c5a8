from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from api.backups.convert import status_out
from api.base_schemas import Page
from api.deps import ActorDep, CatalogDep, CursorQuery, DispatcherDep, LimitQuery, SessionDep, SettingsDep
from api.instances import convert, schemas
from api.jobs import convert as job_convert
from api.jobs.schemas import JobAccepted
from provisioner.backups.service import backup_status
from provisioner.errors import Forbidden
from provisioner.instances import service
from provisioner.instances.credentials import reveal_credentials
from provisioner.jobs.queue import commit_and_send

router = APIRouter(prefix="/api/v1/instances", tags=["instances"])


@router.post("", status_code=status.HTTP_201_CREATED)
def request_instance(
    body: schemas.InstanceIn, actor: ActorDep, session: SessionDep, catalog: CatalogDep, settings: SettingsDep
) -> schemas.InstanceOut:
    """Request a service for an association; it waits for an operator's approval."""
    row = service.request_instance(
        session,
        actor=actor,
        catalog=catalog,
        template=body.template,
        name=body.name,
        parameters=body.parameters,
        tenant_id=body.tenant,
        subdomain=body.subdomain,
        settings=settings,
    )
    session.commit()
    return convert.instance(row)


@router.get("")
def list_instances(
    actor: ActorDep,
    session: SessionDep,
    tenant: Annotated[str | None, Query(max_length=32)] = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[schemas.InstanceOut]:
    """Instances the caller may see, newest first; operators may filter by association."""
    page = service.list_instances(session, actor=actor, tenant_id=tenant, limit=limit, cursor=cursor)
    return Page(items=[convert.instance(i) for i in page.items], next=page.next)


@router.get("/{instance_id}")
def get_instance(
    instance_id: str, actor: ActorDep, session: SessionDep, settings: SettingsDep
) -> schemas.InstanceOut:
    """One instance: state, health, version, server and address."""
    row = convert.instance(service.get_instance(session, actor=actor, instance_id=instance_id))
    row.backup_status = status_out(backup_status(session, settings, instance_id=instance_id))
    return row


@router.post("/{instance_id}/approve", status_code=status.HTTP_202_ACCEPTED)
def approve_instance(
    instance_id: str,
    *,
    actor: ActorDep,
    session: SessionDep,
    catalog: CatalogDep,
    dispatcher: DispatcherDep,
    settings: SettingsDep,
    body: schemas.ApproveIn | None = None,
) -> JobAccepted:
    """Approve a request and place it on a server (a deploy job); the server may be named or chosen by free
    capacity (operators)."""
    job = service.approve_instance(
        session,
        actor=actor,
        catalog=catalog,
        instance_id=instance_id,
        server_id=body.server if body else None,
        settings=settings,
    )
    commit_and_send(session, dispatcher)
    return JobAccepted(job=job_convert.job(job))


@router.post(
    "/{instance_id}/credentials",
    responses={
        409: {"description": "not approved yet, or a copy that keeps the original's logins"},
        410: {"description": "shown once already"},
    },
)
def show_credentials(
    instance_id: str,
    *,
    actor: ActorDep,
    session: SessionDep,
    settings: SettingsDep,
    catalog: CatalogDep,
    response: Response,
) -> schemas.CredentialsOut:
    """The first admin credentials, once: later calls answer 410 Gone. Through the portal's session it
    needs the X-CSRF-Token header, as every change does. A copy made from another instance's backup
    whose service cannot be given a new admin password answers 409, saying whose logins it keeps."""
    instance = service.get_instance(session, actor=actor, instance_id=instance_id)
    template = catalog.get(instance.template)
    shown = reveal_credentials(session, settings, actor=actor, instance=instance, template=template)
    session.commit()
    response.headers["Cache-Control"] = "no-store"
    return schemas.CredentialsOut(url=shown.url, credentials=shown.values)


@router.get("/{instance_id}/credentials", responses={410: {"description": "shown once already"}})
def get_credentials(
    instance_id: str,
    *,
    request: Request,
    actor: ActorDep,
    session: SessionDep,
    settings: SettingsDep,
    catalog: CatalogDep,
    response: Response,
) -> schemas.CredentialsOut:
    """The same for bearer tokens, kept for the scripts that use it. A browser session must POST: a
    link on another site would otherwise spend the one showing with the visitor's cookie."""
    if "authorization" not in request.headers:
        raise Forbidden(
            "through the portal's session, POST with the X-CSRF-Token header to see the credentials"
        )
    return show_credentials(
        instance_id, actor=actor, session=session, settings=settings, catalog=catalog, response=response
    )


@router.post("/{instance_id}/reject")
def reject_instance(
    instance_id: str, body: schemas.RejectIn, actor: ActorDep, session: SessionDep
) -> schemas.InstanceOut:
    """Reject a request, with a reason the association is shown (operators)."""
    row = service.reject_instance(session, actor=actor, instance_id=instance_id, reason=body.reason)
    session.commit()
    return convert.instance(row)
