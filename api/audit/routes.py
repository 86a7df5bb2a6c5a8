"""The audit log: operators read all of it, an association's admin reads its own; members get 403."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from sqlalchemy import Select

from api.audit import schemas
from api.base_schemas import Page
from api.deps import ActorDep, CursorQuery, LimitQuery, SessionDep, SettingsDep
from provisioner.audit.export import csv_lines
from provisioner.audit.log import export_query, list_entries
from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.models import AuditEntry

router = APIRouter(prefix="/api/v1", tags=["audit"])
# The id's own alphabet: checked before the CSV starts streaming, where a value the database cannot
# look up (a NUL) could no longer be answered with a problem.
TenantQuery = Annotated[
    str | None, Query(max_length=32, pattern=r"^[0-9a-z_]+$", description="operators only: one tenant")
]


@router.get("/audit")
def list_audit(
    actor: ActorDep,
    session: SessionDep,
    tenant: TenantQuery = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[schemas.AuditEntryOut]:
    """Who changed what and when, newest first; an association sees its own entries."""
    page = list_entries(session, actor=actor, tenant_id=tenant, limit=limit, cursor=cursor)
    return Page(
        items=[schemas.AuditEntryOut.model_validate(e, from_attributes=True) for e in page.items],
        next=page.next,
    )


@router.get("/audit.csv", response_class=StreamingResponse)
def export_audit(actor: ActorDep, settings: SettingsDep, tenant: TenantQuery = None) -> StreamingResponse:
    """The same entries as CSV (all of them, oldest first), safe to open in a spreadsheet."""
    query = export_query(actor, tenant)  # a refusal is answered here, before the CSV starts
    return csv_download(settings, query)


def csv_download(settings: Settings, query: Select[AuditEntry]) -> StreamingResponse:
    """The entries ``query`` selects as a CSV file (the API's export and the portal's)."""

    def lines() -> Iterator[str]:
        # A session of its own: the request's closes before a long answer is streamed.
        with session_factory(settings.resolved_database_url)() as session:
            yield from csv_lines(session.scalars(query))

    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )
