"""Alerts for the lab: what the health sweeps and jobs raised, open first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import SessionDep
from api.portal.auth import OperatorDep
from api.portal.rendering import render
from provisioner.alerts.service import AlertStatus, list_alerts

router = APIRouter(prefix="/operator", include_in_schema=False)


@router.get("/alerts")
def alerts(
    request: Request,
    viewer: OperatorDep,
    session: SessionDep,
    status: Annotated[str | None, Query(max_length=20)] = "open",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    chosen = AlertStatus(status) if status in set(AlertStatus) else None
    page = list_alerts(session, actor=viewer.actor, status=chosen, limit=100, cursor=cursor)
    context = {"page": page, "status": chosen, "statuses": list(AlertStatus)}
    return render(request, "operator/alerts.html", context)
