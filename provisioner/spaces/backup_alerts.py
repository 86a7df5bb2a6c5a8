"""A space's backup that failed, or could not start on its schedule, is told as a service's is: an
alert for the lab's operators, the association's admins (each in their language) and the webhook,
opened once while it lasts and cleared by the space's next good backup."""

from __future__ import annotations

from sqlalchemy.orm import Session

from provisioner.alerts import AlertKind, raise_alert, resolve_alert
from provisioner.config import Settings
from provisioner.models import Space


def space_backup_failed(session: Session, settings: Settings, *, space: Space, summary: str) -> None:
    raise_alert(
        session,
        settings,
        kind=AlertKind.SPACE_BACKUP_FAILED,
        subject_id=space.id,
        tenant_id=space.tenant_id,
        summary=summary,
    )


def space_backup_outcome(session: Session, settings: Settings, *, space: Space, error: str | None) -> None:
    """A space backup job's end: an alert when it failed, the open one cleared when it succeeded."""
    if error is None:
        resolve_alert(session, settings, kind=AlertKind.SPACE_BACKUP_FAILED, subject_id=space.id)
    else:
        space_backup_failed(session, settings, space=space, summary=f"{space.name} ({space.id}): {error}")
