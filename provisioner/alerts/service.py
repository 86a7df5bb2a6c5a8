"""Opening and clearing alerts. Notices are queued in the same transaction and sent by ``delivery``."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor
from provisioner.config import Settings
from provisioner.models import Alert, AlertDelivery, Tenant
from provisioner.notices.channels import webhook_configured
from provisioner.notices.outbox import admin_recipients
from provisioner.pagination import Page, paginate
from provisioner.timeutil import utcnow

WEBHOOK = "webhook"


class AlertKind(StrEnum):
    INSTANCE_UNHEALTHY = "instance_unhealthy"
    SPACE_UNHEALTHY = "space_unhealthy"
    BACKUP_FAILED = "backup_failed"
    SPACE_BACKUP_FAILED = "space_backup_failed"
    DRILL_FAILED = "drill_failed"
    UPDATE_ROLLED_BACK = "update_rolled_back"
    SERVER_UNREACHABLE = "server_unreachable"
    DISK_FULL = "disk_full"


class AlertStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class Notice(StrEnum):
    OPENED = "opened"
    RESOLVED = "resolved"


def _savepoint(session: Session) -> AbstractContextManager[object]:
    """Lets a sweep racing on the same condition lose the insert without undoing the caller's work.

    SQLite runs one writer at a time, and pysqlite's savepoints would commit the outer transaction.
    """
    if session.get_bind().dialect.name == "sqlite":
        return nullcontext()
    return session.begin_nested()


def _open_key(kind: str, subject_id: str) -> str:
    return f"{kind}:{subject_id}"


def _open_alert(session: Session, kind: str, subject_id: str) -> Alert | None:
    return session.scalar(select(Alert).where(Alert.open_key == _open_key(kind, subject_id)))


def raise_alert(
    session: Session,
    settings: Settings,
    *,
    kind: AlertKind | str,
    subject_id: str,
    tenant_id: str | None,
    summary: str,
) -> Alert:
    """Open an alert for a condition, or note that an open one is still true (which tells nobody again).

    ``subject_id`` names what the condition is about (an instance, a server, a backup's instance);
    ``tenant_id`` decides whether the association's contact hears of it. Flushes, does not commit.
    """
    kind = str(kind)
    now = utcnow()
    existing = _open_alert(session, kind, subject_id)
    if existing is None:
        alert = Alert(
            kind=kind,
            subject_id=subject_id,
            tenant_id=tenant_id,
            summary=summary,
            status=AlertStatus.OPEN.value,
            open_key=_open_key(kind, subject_id),
            created_at=now,
            last_seen_at=now,
        )
        try:
            with _savepoint(session):
                session.add(alert)
                session.flush()
        except IntegrityError:
            existing = _open_alert(session, kind, subject_id)
        else:
            _queue(session, settings, alert, Notice.OPENED, summary)
            return alert
    assert existing is not None  # noqa: S101 - the unique key just said it exists
    existing.last_seen_at = now
    existing.summary = summary
    session.flush()
    return existing


def resolve_alert(
    session: Session,
    settings: Settings,
    *,
    kind: AlertKind | str,
    subject_id: str,
    summary: str | None = None,
) -> Alert | None:
    """Close the open alert for a condition and tell whoever heard of it; None when none was open."""
    alert = _open_alert(session, str(kind), subject_id)
    if alert is None:
        return None
    now = utcnow()
    alert.status = AlertStatus.RESOLVED.value
    alert.open_key = None
    alert.resolved_at = now
    alert.last_seen_at = now
    _queue(session, settings, alert, Notice.RESOLVED, summary or f"resolved: {alert.summary}")
    session.flush()
    return alert


def recipients(session: Session, settings: Settings, tenant_id: str | None) -> list[str]:
    """The operators' addresses, and for an association's things its admins (or its contact address
    while it has no admin)."""
    found = [a.strip() for a in settings.alert_operator_emails.split(",") if a.strip()]
    if tenant_id is not None and session.get(Tenant, tenant_id) is not None:
        found += [
            address for address, _language in admin_recipients(session, tenant_id) if address not in found
        ]
    if webhook_configured(session, settings):
        found.append(WEBHOOK)
    return found


def _queue(session: Session, settings: Settings, alert: Alert, notice: Notice, summary: str) -> None:
    for recipient in recipients(session, settings, alert.tenant_id):
        session.add(
            AlertDelivery(alert_id=alert.id, recipient=recipient, event=notice.value, summary=summary)
        )
    session.flush()


def list_alerts(
    session: Session, *, actor: Actor, status: AlertStatus | None, limit: int, cursor: str | None
) -> Page[Alert]:
    """Operators see every alert; an association's members see those about its own things."""
    query = select(Alert)
    if not actor.is_operator:
        query = query.where(Alert.tenant_id == actor.tenant_id)
    if status is not None:
        query = query.where(Alert.status == status.value)
    return paginate(session, query, Alert, limit=limit, cursor=cursor)
