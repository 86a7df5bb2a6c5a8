"""Builds the FastAPI application: API, portal and service endpoints share one process."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.routing import APIRoute
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api import problems, service
from api.accounts import routes as accounts
from api.accounts import token_routes as tokens
from api.audit import routes as audit
from api.audit.middleware import AuditMiddleware
from api.backups import routes as backups
from api.backups import target_routes as backup_targets
from api.catalog import routes as catalog
from api.exports import routes as exports
from api.idempotency import IdempotencyMiddleware
from api.instances import job_routes as instance_jobs
from api.instances import routes as instances
from api.jobs import routes as jobs
from api.jobs.event_streams import StreamSlots
from api.monitoring.routes import router as monitoring_router
from api.offboarding.routes import records_router as deletion_records_router
from api.offboarding.routes import router as offboarding_router
from api.portal import web as portal
from api.request_ids import RequestIdMiddleware
from api.servers import routes as servers
from api.settings.routes import router as settings_router
from api.spaces import routes as spaces
from api.tenants import routes as tenants
from provisioner import __version__
from provisioner.catalog.loader import Catalog
from provisioner.config import Settings, get_settings
from provisioner.worker.dispatch import CeleryDispatcher


def _operation_id(route: APIRoute) -> str:
    return route.name


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="provisioner",
        version=__version__,
        summary="Services for associations, run by a city lab: request, approve, deploy, watch, remove.",
        # The route function's name: stable across releases and readable in generated clients.
        generate_unique_id_function=_operation_id,
    )
    app.state.settings = settings
    app.state.catalog = Catalog.from_dir(settings.resolved_templates_dir)
    app.state.dispatcher = CeleryDispatcher(settings.resolved_broker_url)
    app.state.stream_slots = StreamSlots(settings.streams_per_caller)
    problems.install(app)
    # Inside the idempotency layer: a replayed answer did nothing again, so it is not recorded again.
    app.add_middleware(AuditMiddleware, database_url=settings.resolved_database_url)
    app.add_middleware(IdempotencyMiddleware, database_url=settings.resolved_database_url)
    # Every layer inside sees the client's address as the trusted proxy reported it.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    # Outermost: every line logged while a request is served, the server's access line too, names it.
    app.add_middleware(RequestIdMiddleware)
    for module in (
        catalog,
        tenants,
        servers,
        instances,
        instance_jobs,
        spaces,
        jobs,
        service,
        accounts,
        tokens,
    ):
        app.include_router(module.router)
    app.include_router(audit.router)
    app.include_router(backups.router)
    app.include_router(backup_targets.router)
    app.include_router(exports.router)
    app.include_router(monitoring_router)
    app.include_router(settings_router)
    app.include_router(offboarding_router)
    app.include_router(deletion_records_router)
    portal.install(app)
    logging.getLogger(__name__).info(
        "API ready with %d services in the catalog", len(app.state.catalog.all())
    )
    return app
