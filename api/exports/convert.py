"""Export rows to response bodies."""

from __future__ import annotations

from api.exports import schemas as es
from provisioner.models import Export


def export_out(row: Export) -> es.ExportOut:
    return es.ExportOut(
        id=row.id,
        scope="service" if row.instance_id else "space" if row.space_id else "association",
        instance=row.instance_id,
        space=row.space_id,
        tenant=row.tenant_id,
        job=row.job_id,
        state=row.state,
        created_at=row.created_at,
        finished_at=row.finished_at,
        expires_at=row.expires_at,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        download=f"/api/v1/exports/{row.id}/archive" if row.state == "ready" else None,
        error=row.error,
        services=[es.ExportedService.model_validate(s) for s in row.services] if row.services else None,
    )
