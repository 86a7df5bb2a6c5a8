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
    """The record's parts, each a small dict the template words in the reader's language."""
    deleted = offboarding.deleted
    services = [
        {"name": s["name"], "template": s["template"], "url": s.get("url") or "", "job": s.get("job") or NONE}
        for s in [*deleted.get("services", []), *deleted.get("spaces", [])]
    ]
    repositories = [
        {
            "target": r["target"],
            "kind": r["kind"],
            "backups": r["backups"],
            "deleted_at": _when(r["deleted_at"]),
        }
        for r in deleted.get("repositories", [])
    ]
    final = [
        {"service": e["service"], "sha256": e["sha256"], "size_bytes": e["size_bytes"],
         "finished_at": _when(e["finished_at"]),
         # An export of everything (no service): each service in it with its files' checksum.
         "services": [{"name": x["name"], "sha256": x["sha256"]}
                      for x in e.get("services", []) if x.get("sha256")]}
        for e in deleted.get("final_export", [])
    ]  # fmt: skip
    return {
        "tenant": offboarding.tenant_name,
        "slug": offboarding.tenant_slug,
        "record_id": offboarding.id,
        "requested_at": _when(offboarding.requested_at),
        "completed_at": _when(offboarding.completed_at),
        "jobs": ", ".join(j["job"] for j in deleted.get("jobs", [])) or NONE,
        "services": services,
        "repositories": repositories,
        "final_export": final,
        "accounts": deleted.get("accounts", 0),
        "invitations": deleted.get("invitations", 0),
        "tokens": deleted.get("tokens", 0),
        "exports": deleted.get("exports", 0),
    }


def asked_values(offboarding: Offboarding) -> dict[str, Any]:
    """An offboarding still waiting: who leaves, and until when it may be canceled."""
    return {
        "tenant": offboarding.tenant_name,
        "slug": offboarding.tenant_slug,
        "not_before": _when(offboarding.not_before),
    }
