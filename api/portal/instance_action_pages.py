"""Work on a running service from its page: deploy again, update to a version it may take, move it to
another server (operators), new admin credentials. Each queues the job the API's route would queue,
through the same service functions, and leads to that job's page."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from api.deps import CatalogDep, DispatcherDep, SessionDep
from api.portal.auth import SignedForm, ViewerDep
from api.portal.service_pages import detail_page
from provisioner.errors import DomainError
from provisioner.instances import operations
from provisioner.instances.service import get_instance
from provisioner.jobs.queue import commit_and_send
from provisioner.models import Job

router = APIRouter(prefix="/services/{instance_id}", include_in_schema=False)


def _queued(
    request: Request,
    instance_id: str,
    *,
    action: str,
    viewer: ViewerDep,
    session: Session,
    catalog: CatalogDep,
    dispatcher: DispatcherDep,
    make_job: Callable[[], Job],
) -> Response:
    """The job's page once it is queued; else the service's page again, saying why not."""
    try:
        job = make_job()
    except DomainError as exc:
        session.rollback()
        instance = get_instance(session, actor=viewer.actor, instance_id=instance_id)
        refused = {"action": action, "detail": exc.detail}
        response = detail_page(
            request, session, instance, catalog=catalog, viewer=viewer, extra={"refused": refused}
        )
        response.status_code = exc.status_code
        return response
    commit_and_send(session, dispatcher)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.post("/redeploy")
def redeploy(
    request: Request,
    instance_id: str,
    *,
    viewer: ViewerDep,
    form: SignedForm,
    session: SessionDep,
    catalog: CatalogDep,
    dispatcher: DispatcherDep,
) -> Response:
    return _queued(
        request, instance_id, action="redeploy", viewer=viewer, session=session, catalog=catalog,
        dispatcher=dispatcher,
        make_job=lambda: operations.redeploy_instance(session, actor=viewer.actor, instance_id=instance_id),
    )  # fmt: skip


@router.post("/update")
def update(
    request: Request,
    instance_id: str,
    *,
    viewer: ViewerDep,
    form: SignedForm,
    session: SessionDep,
    catalog: CatalogDep,
    dispatcher: DispatcherDep,
) -> Response:
    version = form.get("version", "")[:40]
    return _queued(
        request, instance_id, action="update", viewer=viewer, session=session, catalog=catalog,
        dispatcher=dispatcher,
        make_job=lambda: operations.update_instance(
            session, actor=viewer.actor, catalog=catalog, instance_id=instance_id, version=version
        ),
    )  # fmt: skip


@router.post("/move")
def move(
    request: Request,
    instance_id: str,
    *,
    viewer: ViewerDep,
    form: SignedForm,
    session: SessionDep,
    catalog: CatalogDep,
    dispatcher: DispatcherDep,
) -> Response:
    server_id = form.get("server") or None
    return _queued(
        request, instance_id, action="move", viewer=viewer, session=session, catalog=catalog,
        dispatcher=dispatcher,
        make_job=lambda: operations.move_instance(
            session, actor=viewer.actor, catalog=catalog, instance_id=instance_id, server_id=server_id
        ),
    )  # fmt: skip


@router.post("/credentials/reset")
def reset_credentials(
    request: Request,
    instance_id: str,
    *,
    viewer: ViewerDep,
    form: SignedForm,
    session: SessionDep,
    catalog: CatalogDep,
    dispatcher: DispatcherDep,
) -> Response:
    return _queued(
        request, instance_id, action="reset", viewer=viewer, session=session, catalog=catalog,
        dispatcher=dispatcher,
        make_job=lambda: operations.reset_credentials(
            session, actor=viewer.actor, catalog=catalog, instance_id=instance_id
        ),
    )  # fmt: skip
