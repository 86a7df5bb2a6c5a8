"""Spaces: an association's own part of a shared instance. Their work is a job on the shared instance."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from api.base_schemas import Page
from api.deps import ActorDep, CatalogDep, CursorQuery, DispatcherDep, LimitQuery, SessionDep, SettingsDep
from api.instances import convert as instance_convert
from api.instances.schemas import RejectIn
from api.jobs import convert as job_convert
from api.jobs.schemas import JobAccepted
from api.spaces import convert, schemas
from provisioner.jobs.queue import commit_and_send
from provisioner.spaces import data, service
from provisioner.spaces.credentials import reveal_space_admin
from provisioner.spaces.footprint import space_share
from provisioner.spaces.links import moderator_link
from provisioner.spaces.quota import change_space_quota

router = APIRouter(prefix="/api/v1/spaces", tags=["spaces"])


@router.post("", status_code=status.HTTP_201_CREATED)
def request_space(
    body: schemas.SpaceIn, actor: ActorDep, session: SessionDep, catalog: CatalogDep, settings: SettingsDep
) -> schemas.SpaceOut:
    """Request a space in a shared instance of a service the lab offers shared; it waits for approval."""
    row = service.request_space(
        session,
        actor=actor,
        catalog=catalog,
        template=body.template,
        name=body.name,
        tenant_id=body.tenant,
        subdomain=body.subdomain,
        settings=settings,
    )
    session.commit()
    return convert.space(row, catalog)


@router.get("")
def list_spaces(
    *,
    actor: ActorDep,
    session: SessionDep,
    catalog: CatalogDep,
    tenant: Annotated[str | None, Query(max_length=32)] = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[schemas.SpaceOut]:
    """Spaces the caller may see, newest first: an association its own, an operator all (``?tenant=``)."""
    page = service.list_spaces(session, actor=actor, tenant_id=tenant, limit=limit, cursor=cursor)
    return Page(items=[convert.space(s, catalog) for s in page.items], next=page.next)


@router.get("/{space_id}")
def get_space(
    space_id: str, *, actor: ActorDep, session: SessionDep, catalog: CatalogDep, settings: SettingsDep
) -> schemas.SpaceOut:
    """One space: state, health, address, quota, and its share of the shared instance's use."""
    row = service.get_space(session, actor=actor, space_id=space_id)
    out = convert.space(row, catalog)
    share = space_share(session, settings, catalog, space=row)
    if share is not None:
        out.footprint = schemas.SpaceShareOut(
            cpu=share.figures.cpu,
            memory_mb=share.figures.memory_mb,
            disk_gb=share.figures.disk_gb,
            measured=share.figures.measured,
            spaces=share.spaces,
        )
    return out


@router.patch("/{space_id}", status_code=status.HTTP_202_ACCEPTED)
def patch_space(
    space_id: str,
    body: schemas.SpacePatchIn,
    *,
    actor: ActorDep,
    session: SessionDep,
    catalog: CatalogDep,
    dispatcher: DispatcherDep,
) -> schemas.SpaceChangeAccepted:
    """Change a running space's limits (operators): a job runs the service's own change command, and
    the space's quota reads the new limits once it succeeded. Only limits the service enforces."""
    changed = change_space_quota(
        session,
        actor=actor,
        catalog=catalog,
        space_id=space_id,
        given=body.quota.model_dump(include=body.quota.model_fields_set),
    )
    commit_and_send(session, dispatcher)
    return schemas.SpaceChangeAccepted(
        space=convert.space(changed.space, catalog), job=job_convert.job(changed.job)
    )


@router.post("/{space_id}/approve", status_code=status.HTTP_202_ACCEPTED)
def approve_space(
    space_id: str,
    *,
    actor: ActorDep,
    session: SessionDep,
    catalog: CatalogDep,
    dispatcher: DispatcherDep,
    settings: SettingsDep,
    body: schemas.SpaceApproveIn | None = None,
) -> JobAccepted:
    """Approve a request: the space is placed into a shared instance with room, or a new one, and a job
    makes it there (deploying a new shared instance first) (operators)."""
    quota = body.quota if body else schemas.SpaceQuotaIn()
    job = service.approve_space(
        session,
        actor=actor,
        catalog=catalog,
        space_id=space_id,
        quota_members=quota.members,
        quota_storage_mb=quota.storage_mb,
        server_id=body.server if body else None,
        settings=settings,
    )
    commit_and_send(session, dispatcher)
    return JobAccepted(job=job_convert.job(job))


@router.post("/{space_id}/reject")
def reject_space(
    space_id: str, body: RejectIn, actor: ActorDep, session: SessionDep, catalog: CatalogDep
) -> schemas.SpaceOut:
    """Reject a request, with a reason the association is shown (operators)."""
    row = service.reject_space(session, actor=actor, space_id=space_id, reason=body.reason)
    session.commit()
    return convert.space(row, catalog)


@router.delete("/{space_id}", status_code=status.HTTP_202_ACCEPTED)
def remove_space(
    space_id: str, actor: ActorDep, session: SessionDep, catalog: CatalogDep, dispatcher: DispatcherDep
) -> schemas.SpaceRemoval:
    """Remove the space and its content from the shared instance; the shared instance goes with its last
    space. A request not approved yet is withdrawn at once, without a job."""
    job = service.remove_space(session, actor=actor, space_id=space_id)
    space = service.get_space(session, actor=actor, space_id=space_id)
    commit_and_send(session, dispatcher)
    return schemas.SpaceRemoval(
        space=convert.space(space, catalog), job=job_convert.job(job) if job else None
    )


@router.post(
    "/{space_id}/credentials",
    responses={409: {"description": "not approved yet"}, 410: {"description": "shown once already"}},
)
def show_space_admin(
    space_id: str,
    *,
    actor: ActorDep,
    session: SessionDep,
    settings: SettingsDep,
    catalog: CatalogDep,
    response: Response,
) -> schemas.SpaceAdminOut:
    """The space's first admin and password, once: later calls answer 410 Gone (409 where the service's
    moderators come in by signed links instead)."""
    space = service.get_space(session, actor=actor, space_id=space_id)
    shown = reveal_space_admin(session, settings, actor=actor, space=space, catalog=catalog)
    session.commit()
    response.headers["Cache-Control"] = "no-store"
    return schemas.SpaceAdminOut(url=shown.url, user=shown.user, password=shown.password)


@router.post("/{space_id}/moderator-links", responses={409: {"description": "the service takes accounts"}})
def make_moderator_link(
    space_id: str,
    body: schemas.ModeratorLinkIn,
    *,
    actor: ActorDep,
    session: SessionDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    response: Response,
) -> schemas.ModeratorLinkOut:
    """A signed link that lets a moderator open meetings of the space, where the service takes tokens
    instead of accounts (a shared Jitsi): valid for ``days``, kept nowhere."""
    link = moderator_link(
        session,
        settings,
        catalog,
        actor=actor,
        space_id=space_id,
        room=body.room,
        days=body.days,
        name=body.name,
    )
    session.commit()
    response.headers["Cache-Control"] = "no-store"
    return schemas.ModeratorLinkOut(url=link.url, expires_at=link.expires_at)


@router.post("/{space_id}/backups", status_code=status.HTTP_202_ACCEPTED)
def back_up_space(
    space_id: str, actor: ActorDep, session: SessionDep, catalog: CatalogDep, dispatcher: DispatcherDep
) -> JobAccepted:
    """Back the space up alone, into its association's own backup repository (409 where the service
    cannot take one space's data apart from the others')."""
    job = data.request_space_backup(session, actor=actor, catalog=catalog, space_id=space_id)
    commit_and_send(session, dispatcher)
    return JobAccepted(job=job_convert.job(job))


@router.get("/{space_id}/backups")
def list_space_backups(space_id: str, actor: ActorDep, session: SessionDep) -> schemas.SpaceBackupList:
    """The space's own backups, newest first."""
    rows = data.list_space_backups(session, actor=actor, space_id=space_id)
    return schemas.SpaceBackupList(items=[convert.space_backup(row) for row in rows])


@router.post("/{space_id}/restores", status_code=status.HTTP_202_ACCEPTED)
def restore_space(
    space_id: str,
    body: schemas.SpaceRestoreIn,
    *,
    actor: ActorDep,
    session: SessionDep,
    catalog: CatalogDep,
    dispatcher: DispatcherDep,
) -> JobAccepted:
    """Put one of the space's backups back into the space; the other spaces of its shared instance stay
    as they are (422 naming ``body.backup`` for a backup not of this space)."""
    job = data.request_space_restore(
        session, actor=actor, catalog=catalog, space_id=space_id, backup_id=body.backup
    )
    commit_and_send(session, dispatcher)
    return JobAccepted(job=job_convert.job(job))


@router.post("/{space_id}/move-to-dedicated", status_code=status.HTTP_202_ACCEPTED)
def move_space_to_dedicated(
    space_id: str,
    *,
    actor: ActorDep,
    session: SessionDep,
    catalog: CatalogDep,
    dispatcher: DispatcherDep,
    settings: SettingsDep,
    body: schemas.SpaceMoveOutIn | None = None,
) -> schemas.SpaceMoveAccepted:
    """Move the space into a dedicated instance of its association's own, with its content, at the
    instance's own address; the space is removed once its data is there (operators)."""
    chosen = body or schemas.SpaceMoveOutIn()
    accepted = data.request_move_out(
        session,
        actor=actor,
        catalog=catalog,
        settings=settings,
        space_id=space_id,
        name=chosen.name,
        subdomain=chosen.subdomain,
    )
    commit_and_send(session, dispatcher)
    return schemas.SpaceMoveAccepted(
        instance=instance_convert.instance(accepted.instance), job=job_convert.job(accepted.job)
    )
