"""Liveness, readiness and metrics for the lab's monitoring."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import func, select, text

from api.deps import SessionDep, SettingsDep
from provisioner.models import Instance, Job
from provisioner.worker.dispatch import broker_reachable

router = APIRouter(tags=["service"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(session: SessionDep, settings: SettingsDep) -> JSONResponse:
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
def metrics(session: SessionDep) -> str:
    lines = [
        "# HELP provisioner_instances Instances by state.",
        "# TYPE provisioner_instances gauge",
    ]
    for state, count in session.execute(select(Instance.state, func.count()).group_by(Instance.state)):
        lines.append(f'provisioner_instances{{state="{state}"}} {count}')
    lines += ["# HELP provisioner_jobs Jobs by kind and status.", "# TYPE provisioner_jobs gauge"]
    for kind, status, count in session.execute(
        select(Job.kind, Job.status, func.count()).group_by(Job.kind, Job.status)
    ):
        lines.append(f'provisioner_jobs{{kind="{kind}",status="{status}"}} {count}')
    return "\n".join(lines) + "\n"
