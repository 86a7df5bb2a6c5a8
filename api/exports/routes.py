"""Exports of a service's data in open formats: asked for, read back, downloaded while they last."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from fastapi import APIRouter, status
from fastapi.responses import StreamingResponse

from api.deps import ActorDep, CatalogDep, DispatcherDep, SessionDep, SettingsDep
from api.exports import schemas as es
from api.exports.convert import export_out
from api.jobs import convert as job_convert
from provisioner.config import Settings
from provisioner.exports import association, service, space
from provisioner.exports.sealed import opened
from provisioner.jobs.queue import commit_and_send
from provisioner.models import Export

router = APIRouter(tags=["exports"])


@router.post("/api/v1/instances/{instance_id}/exports", status_code=status.HTTP_202_ACCEPTED)
def request_export(
    instance_id: str, actor: ActorDep, session: SessionDep, catalog: CatalogDep, dispatcher: DispatcherDep
) -> es.ExportAccepted:
    """Export the service's data in open formats (a job): a fresh backup, restored into a throwaway
    folder, made into one archive with a manifest and a README. Its association's admins only."""
    requested = service.request_export(session, actor=actor, catalog=catalog, instance_id=instance_id)
    commit_and_send(session, dispatcher)
    return es.ExportAccepted(export=export_out(requested.export), job=job_convert.job(requested.job))


@router.post("/api/v1/spaces/{space_id}/exports", status_code=status.HTTP_202_ACCEPTED)
def request_space_export(
    space_id: str, actor: ActorDep, session: SessionDep, catalog: CatalogDep, dispatcher: DispatcherDep
) -> es.ExportAccepted:
    """Export one space's own data (a job on its shared instance): a fresh backup of the space, restored
    into a throwaway folder, made into one archive with a manifest and a README. Its association's
    admins only; a service that cannot take one space's data apart from the others' answers 409."""
    requested = space.request_space_export(session, actor=actor, catalog=catalog, space_id=space_id)
    commit_and_send(session, dispatcher)
    return es.ExportAccepted(export=export_out(requested.export), job=job_convert.job(requested.job))


@router.get("/api/v1/spaces/{space_id}/exports")
def list_space_exports(space_id: str, actor: ActorDep, session: SessionDep) -> es.ExportList:
    """The space's exports, newest first."""
    rows = space.space_exports(session, actor=actor, space_id=space_id)
    return es.ExportList(items=[export_out(r) for r in rows])


@router.post("/api/v1/tenants/{tenant_id}/exports", status_code=status.HTTP_202_ACCEPTED)
def request_association_export(
    tenant_id: str, actor: ActorDep, session: SessionDep, catalog: CatalogDep, dispatcher: DispatcherDep
) -> es.ExportAccepted:
    """Export all the association's services into one archive (a job with a step per service): each
    running one from a fresh backup, the others listed as skipped with the reason. Its admins only."""
    requested = association.request_association_export(
        session, actor=actor, catalog=catalog, tenant_id=tenant_id
    )
    commit_and_send(session, dispatcher)
    return es.ExportAccepted(export=export_out(requested.export), job=job_convert.job(requested.job))


@router.get("/api/v1/tenants/{tenant_id}/exports")
def list_association_exports(tenant_id: str, actor: ActorDep, session: SessionDep) -> es.ExportList:
    """The association's exports of all its services, newest first."""
    rows = association.association_exports(session, actor=actor, tenant_id=tenant_id)
    return es.ExportList(items=[export_out(r) for r in rows])


@router.get("/api/v1/instances/{instance_id}/exports")
def list_exports(instance_id: str, actor: ActorDep, session: SessionDep) -> es.ExportList:
    """The service's exports, newest first."""
    rows = service.list_exports(session, actor=actor, instance_id=instance_id)
    return es.ExportList(items=[export_out(r) for r in rows])


@router.get("/api/v1/exports/{export_id}")
def get_export(export_id: str, actor: ActorDep, session: SessionDep) -> es.ExportOut:
    """One export: its state, size, checksum, expiry and download link."""
    return export_out(service.get_export(session, actor=actor, export_id=export_id))


def _plaintext(settings: Settings, path: Path) -> Iterator[bytes]:
    keys = [key for key in (settings.secret_key, settings.secret_key_previous) if key]
    with path.open("rb") as sealed:
        yield from opened(sealed, keys)


@router.get(
    "/api/v1/exports/{export_id}/archive",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/gzip": {}}}, 410: {"description": "expired"}},
)
def download_export(
    export_id: str, actor: ActorDep, session: SessionDep, settings: SettingsDep
) -> StreamingResponse:
    """The archive (tar.gz), for its association's admins and the lab's operators until it expires."""
    export, path = service.downloadable(session, settings, actor=actor, export_id=export_id)
    return archive_response(settings, export, path)


def archive_response(settings: Settings, export: Export, path: Path) -> StreamingResponse:
    """The archive as downloaded: opened on the way out, never written anywhere in the clear."""
    headers = {
        "Content-Disposition": f'attachment; filename="{service.archive_name(export)}"',
        "Content-Length": str(export.size_bytes),
        "Cache-Control": "no-store",
    }
    return StreamingResponse(_plaintext(settings, path), media_type="application/gzip", headers=headers)
