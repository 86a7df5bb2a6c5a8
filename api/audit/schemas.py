"""Bodies of the audit log's endpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class AuditEntryOut(BaseModel):
    id: str
    created_at: datetime
    actor: str
    tenant_id: str | None
    action: str
    target_id: str | None
    client_address: str | None
    status_code: int | None
    outcome: str
