"""Liveness, readiness and metrics for the lab's monitoring."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from api.deps import ActorDep, CatalogDep, SessionDep, SettingsDep
from provisioner.observability.metrics import render
from provisioner.worker.dispatch import broker_reachable

router = APIRouter(tags=["service"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(session: SessionDep, settings: SettingsDep) -> JSONResponse:
    """The database and the broker are reachable (503 otherwise)."""
    checks: dict[str, str] = {}
    try:
        session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # readiness reports any failure instead of raising it
        checks["database"] = f"unreachable: {type(exc).__name__}"
    checks["broker"] = "ok" if broker_reachable(settings.resolved_broker_url) else "unreachable"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
    )


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(session: SessionDep, catalog: CatalogDep, actor: ActorDep) -> Response:
    """The lab's figures for Prometheus (jobs, queue, instances, backups, drills, servers); operators only,
    because the series name every association's instances."""
    actor.require_operator()
    return Response(render(session, catalog), media_type=CONTENT_TYPE_LATEST)
