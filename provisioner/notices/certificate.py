"""What an association's deletion record says in its certificate mail: plain lines, the same for the
portal's record page, none a secret (the record holds none)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from provisioner.models import Offboarding

NONE = "-"


def _when(value: datetime | str | None) -> str:
    if value is None:
        return NONE
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def certificate_values(offboarding: Offboarding) -> dict[str, Any]:
    deleted = offboarding.deleted
    services = [
        f"{s['name']} ({s['template']}{', ' + s['url'] if s.get('url') else ''}), job {s['job']}"
        for s in deleted.get("services", [])
    ]
    spaces = [
        f"{s['name']} ({s['template']}{', ' + s['url'] if s.get('url') else ''}), job {s['job'] or NONE}"
        for s in deleted.get("spaces", [])
    ]
    repositories = [
        f"{r['target']} ({r['kind']}): {r['backups']} backup(s), deleted {_when(r['deleted_at'])}"
        for r in deleted.get("repositories", [])
    ]
    final = [
        f"{e['service']}: {e['sha256']} ({e['size_bytes']} bytes, {_when(e['finished_at'])})"
        for e in deleted.get("final_export", [])
    ]
    return {
        "tenant": offboarding.tenant_name,
        "slug": offboarding.tenant_slug,
        "record_id": offboarding.id,
        "requested_at": _when(offboarding.requested_at),
        "completed_at": _when(offboarding.completed_at),
        "jobs": ", ".join(j["job"] for j in deleted.get("jobs", [])) or NONE,
        "services": services or [NONE],
        "spaces": spaces or [NONE],
        "repositories": repositories or [NONE],
        "final_export": final or [NONE],
        "accounts": deleted.get("accounts", 0),
        "invitations": deleted.get("invitations", 0),
        "tokens": deleted.get("tokens", 0),
        "exports": deleted.get("exports", 0),
    }
