"""Queueing notices in the transaction of what they tell of, one row per recipient in its language.

Nothing is sent here: a worker sends what the transaction committed (``delivery``), so a request never waits
for a mail server and a rolled-back change tells nobody.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.config import Settings
from provisioner.i18n import DEFAULT_LANGUAGE, known_language
from provisioner.models import OutgoingNotice, Tenant, User
from provisioner.notices.channels import mail_configured, webhook_configured
from provisioner.timeutil import utcnow

WEBHOOK = "webhook"
# Stands for the lab's operators until a worker writes to them: who they are is the worker's settings' say.
OPERATORS = "operators"


class NoticeKind(StrEnum):
    # To the lab's operators (and its webhook).
    REQUEST_WAITING = "request_waiting"
    JOB_FAILED = "job_failed"
    SERVER_BOOTSTRAP_FAILED = "server_bootstrap_failed"
    # To an association's admins.
    REQUEST_APPROVED = "request_approved"
    REQUEST_REJECTED = "request_rejected"
    SERVICE_READY = "service_ready"
    UPDATE_APPLIED = "update_applied"
    UPDATE_FAILED = "update_failed"
    # To an association's contact, once it is offboarded: its deletion record as a certificate.
    DELETION_RECORD = "deletion_record"
    # To an association's admins and the operators: an admin asked to leave; it may still be canceled.
    OFFBOARDING_ASKED = "offboarding_asked"


def operator_recipients(session: Session, settings: Settings) -> list[tuple[str, str]]:
    """The addresses the settings name for alerts, else every operator's own; each with its language."""
    named = [a.strip().lower() for a in settings.alert_operator_emails.split(",") if a.strip()]
    if not named:
        named = list(
            session.scalars(
                select(User.email)
                .where(User.role == "operator", User.disabled_at.is_(None))
                .order_by(User.id)
            )
        )
    return [(address, language_of_address(session, address)) for address in named]


def operators_hear_of_failures(session: Session, settings: Settings) -> bool:
    """Whether a failed job reaches anyone at the lab: by mail to someone, or by its webhook."""
    if webhook_configured(session, settings):
        return True
    return mail_configured(session, settings) and bool(operator_recipients(session, settings))


def admin_recipients(session: Session, tenant_id: str) -> list[tuple[str, str]]:
    """An association's admins in their languages; its contact address when it has no admin yet."""
    tenant = session.get_one(Tenant, tenant_id)
    fallback = known_language(tenant.language) or DEFAULT_LANGUAGE
    admins = session.scalars(
        select(User)
        .where(User.tenant_id == tenant_id, User.role == "admin", User.disabled_at.is_(None))
        .order_by(User.id)
    ).all()
    if not admins:
        return [(tenant.contact_email, fallback)]
    return [(user.email, known_language(user.language) or fallback) for user in admins]


def language_of_address(session: Session, address: str) -> str:
    """The language of the person with this address, else of the association it is the contact of."""
    user = session.scalar(select(User).where(User.email == address.strip().lower()))
    if user is not None:
        if chosen := known_language(user.language):
            return chosen
        if user.tenant_id is not None:
            return known_language(session.get_one(Tenant, user.tenant_id).language) or DEFAULT_LANGUAGE
    tenant_language = session.scalar(
        select(Tenant.language).where(Tenant.contact_email == address).order_by(Tenant.id).limit(1)
    )
    return known_language(tenant_language) or DEFAULT_LANGUAGE


def queue(
    session: Session,
    *,
    kind: NoticeKind,
    recipients: list[tuple[str, str]],
    values: dict[str, Any],
) -> list[OutgoingNotice]:
    now = utcnow()
    rows = [
        OutgoingNotice(
            kind=kind.value, recipient=address, language=language, values=values, created_at=now, due_at=now
        )
        for address, language in recipients
    ]
    session.add_all(rows)
    session.flush()
    return rows


def queue_for_operators(
    session: Session, *, kind: NoticeKind, values: dict[str, Any]
) -> list[OutgoingNotice]:
    return queue(session, kind=kind, recipients=[(OPERATORS, DEFAULT_LANGUAGE)], values=values)


def expand_operators(session: Session, settings: Settings, notice: OutgoingNotice) -> None:
    """Replace a notice for the operators by one per operator address (and the webhook), each retried
    alone."""
    recipients = operator_recipients(session, settings)
    if webhook_configured(session, settings):
        recipients.append((WEBHOOK, DEFAULT_LANGUAGE))
    queue(session, kind=NoticeKind(notice.kind), recipients=recipients, values=notice.values)
    notice.due_at = None
    notice.sent_at = utcnow()
    notice.error = None if recipients else "the lab has no operator address and no webhook"
    session.flush()


def queue_for_admins(
    session: Session, *, tenant_id: str, kind: NoticeKind, values: dict[str, Any]
) -> list[OutgoingNotice]:
    return queue(session, kind=kind, recipients=admin_recipients(session, tenant_id), values=values)
