from __future__ import annotations

from fastapi import APIRouter, Response, status
from sqlalchemy.orm import Session

from api.base_schemas import Page
from api.deps import ActorDep, CatalogDep, CursorQuery, DispatcherDep, LimitQuery, SessionDep, SettingsDep
from api.jobs import convert as job_convert
from api.jobs.schemas import JobAccepted
from api.servers import convert, schemas
from provisioner.auth.actor import Actor
from provisioner.jobs.queue import commit_and_send
from provisioner.models import Server
from provisioner.servers import removal, service
from provisioner.servers.bootstrap import bootstrap_server
from provisioner.servers.draining import drain_server

router = APIRouter(prefix="/api/v1/servers", tags=["servers"])


def create_server(session: Session, *, actor: Actor, body: schemas.ServerIn, scan_timeout: int) -> Server:
    """The API's and the portal's way in: the checked body to the service's keywords."""
    return service.add_server(
        session,
        actor=actor,
        name=body.name,
        address=body.address,
        port=body.port,
        user=body.user,
        cpu=body.capacity.cpu,
        memory_mb=body.capacity.memory_mb,
        disk_gb=body.capacity.disk_gb,
        public_address=body.public_address,
        root_dir=body.root_dir,
        host_key=body.host_key,
        scan_timeout=scan_timeout,
        base_domain=body.base_domain,
        tls_mode=body.tls_mode,
    )


@router.post("", status_code=status.HTTP_201_CREATED)
def add_server(
    body: schemas.ServerIn, actor: ActorDep, session: SessionDep, catalog: CatalogDep, settings: SettingsDep
) -> schemas.ServerOut:
    """Register a server; its host key is read once and then checked on every connection (operators)."""
    row = create_server(session, actor=actor, body=body, scan_timeout=settings.ssh_connect_timeout_seconds)
    session.commit()
    return convert.server(session, catalog, row)


@router.get("")
def list_servers(
    actor: ActorDep,
    session: SessionDep,
    catalog: CatalogDep,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[schemas.ServerOut]:
    """The lab's servers with capacity, use and reachability (operators)."""
    page = service.list_servers(session, actor=actor, limit=limit, cursor=cursor)
    return Page(items=[convert.server(session, catalog, s) for s in page.items], next=page.next)


@router.get("/{server_id}")
def get_server(
    server_id: str, actor: ActorDep, session: SessionDep, catalog: CatalogDep
) -> schemas.ServerOut:
    """One server: capacity, what its instances reserve, what is free, host key fingerprint."""
    return convert.server(session, catalog, service.get_server(session, actor=actor, server_id=server_id))


@router.patch("/{server_id}")
def change_server(
    server_id: str, body: schemas.ServerPatch, actor: ActorDep, session: SessionDep, catalog: CatalogDep
) -> schemas.ServerOut:
    """Change a server's capacity, base domain or TLS mode, or whether it drains (operators)."""
    capacity = body.capacity
    row = service.change_server(
        session,
        actor=actor,
        catalog=catalog,
        server_id=server_id,
        changes=service.ServerChanges(
            cpu=capacity.cpu if capacity else None,
            memory_mb=capacity.memory_mb if capacity else None,
            disk_gb=capacity.disk_gb if capacity else None,
            base_domain=body.base_domain,
            tls_mode=body.tls_mode,
            draining=body.draining,
        ),
    )
    session.commit()
    return convert.server(session, catalog, row)


@router.post("/{server_id}/drain", status_code=status.HTTP_202_ACCEPTED)
def drain(
    server_id: str, actor: ActorDep, session: SessionDep, catalog: CatalogDep, dispatcher: DispatcherDep
) -> schemas.DrainOut:
    """Drain a server: it takes no new instances, and its instances are moved elsewhere (operators)."""
    row, jobs = drain_server(session, actor=actor, catalog=catalog, server_id=server_id)
    commit_and_send(session, dispatcher)
    return schemas.DrainOut(
        server=convert.server(session, catalog, row),
        moves=[
            schemas.MoveOut(
                instance=job.instance_id, to_server=job.target_server_id or "", job=job_convert.job(job)
            )
            for job in jobs
        ],
    )


@router.post("/{server_id}/bootstrap", status_code=status.HTTP_202_ACCEPTED)
def bootstrap(server_id: str, actor: ActorDep, session: SessionDep, dispatcher: DispatcherDep) -> JobAccepted:
    """Make a server ready (again) as a job: Docker where missing, restic, git, the reverse proxy; its
    steps stream like any job's (operators). ``409`` while the server's previous bootstrap is under way."""
    job = bootstrap_server(session, actor=actor, server_id=server_id)
    commit_and_send(session, dispatcher)
    return JobAccepted(job=job_convert.job(job))


@router.delete(
    "/{server_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={409: {"description": "instances still live on the server, or are being moved to it"}},
)
def remove_server(server_id: str, actor: ActorDep, session: SessionDep) -> Response:
    """Remove a server no instance lives on, with its pinned host key and its proxy's CA; refused with 409
    while one does or a move to it is unfinished (operators). Nothing on the server itself is deleted."""
    removal.remove_server(session, actor=actor, server_id=server_id)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
