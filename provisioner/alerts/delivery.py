"""Sends queued alert notices: by e-mail and to an optional webhook, several close together as one digest.

A recipient who was just told something gets what follows within ``alert_digest_seconds`` in one
message when that window has passed, so a server going down with its twenty instances makes one
e-mail, not twenty-one. Notices are claimed in the database before sending: two schedulers running
this at once never send one notice twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from provisioner.alerts.service import WEBHOOK
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.i18n import DEFAULT_LANGUAGE
from provisioner.mail import Mail, MailError, send_mail
from provisioner.mail_config import mail_settings_for
from provisioner.models import Alert, AlertDelivery
from provisioner.notices.channels import WebhookError, as_mail, lab_link, post_webhook
from provisioner.notices.outbox import language_of_address
from provisioner.notices.render import render
from provisioner.timeutil import utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


def deliver_pending(settings: Settings) -> int:
    """Send what is due; returns how many notices went out."""
    url = settings.resolved_database_url
    with transaction(url) as session:
        waiting = session.scalars(
            select(AlertDelivery.recipient).where(AlertDelivery.sent_at.is_(None)).distinct()
        ).all()
    return sum(_deliver_to(settings, recipient) for recipient in waiting)


def _deliver_to(settings: Settings, recipient: str) -> int:
    url = settings.resolved_database_url
    now = utcnow()
    with transaction(url) as session:
        pending = _pending(session, recipient)
        if not pending or _hold(session, settings, recipient, pending, now):
            return 0
        notices = [_describe(session, d) for d in pending]
        sender = mail_settings_for(session, settings)
        mail = compose(session, settings, recipient, notices)
        ids = [d.id for d in pending]
        claimed = session.execute(
            update(AlertDelivery)
            .where(AlertDelivery.id.in_(ids), AlertDelivery.sent_at.is_(None))
            .values(sent_at=now, attempts=AlertDelivery.attempts + 1)
        )
        if claimed.rowcount != len(ids):  # type: ignore[attr-defined]
            session.rollback()  # another scheduler took some of them; it sends them
            return 0
    try:
        _send(sender, recipient, mail, notices)
    except (MailError, WebhookError) as exc:
        log.warning("alert notices to %s could not be sent: %s", _shown(recipient), exc)
        with transaction(url) as session:
            # Sent again at the next round, unless it failed too often: then it stays sent-with-error.
            session.execute(
                update(AlertDelivery)
                .where(AlertDelivery.id.in_(ids), AlertDelivery.attempts < MAX_ATTEMPTS)
                .values(sent_at=None)
            )
            session.execute(update(AlertDelivery).where(AlertDelivery.id.in_(ids)).values(error=str(exc)))
        return 0
    return len(ids)


def _pending(session: Session, recipient: str) -> Sequence[AlertDelivery]:
    query = (
        select(AlertDelivery)
        .where(AlertDelivery.recipient == recipient, AlertDelivery.sent_at.is_(None))
        .order_by(AlertDelivery.id)
    )
    return session.scalars(query).all()


def _hold(
    session: Session, settings: Settings, recipient: str, pending: Sequence[AlertDelivery], now: datetime
) -> bool:
    """Wait while the recipient was told something less than a window ago, to gather a digest."""
    window = timedelta(seconds=settings.alert_digest_seconds)
    last_sent = session.scalar(
        select(func.max(AlertDelivery.sent_at)).where(AlertDelivery.recipient == recipient)
    )
    if last_sent is None or now - last_sent >= window:
        return False
    # Never longer than a window after the oldest notice, however busy the recipient is.
    return now - pending[0].created_at < window


def _describe(session: Session, delivery: AlertDelivery) -> dict[str, Any]:
    alert = session.get(Alert, delivery.alert_id)
    assert alert is not None  # noqa: S101 - the foreign key holds it
    return {
        "alert": alert.id,
        "kind": alert.kind,
        "subject": alert.subject_id,
        "tenant": alert.tenant_id,
        "event": delivery.event,
        "summary": delivery.summary,
        "at": delivery.created_at.isoformat(),
    }


def _send(settings: Settings, recipient: str, mail: Mail, notices: list[dict[str, Any]]) -> None:
    if recipient == WEBHOOK:
        # ``text`` is what chat receivers (Mattermost, Matrix hookshot, Slack-compatible) show.
        post_webhook(settings, {"text": f"{mail.subject}\n\n{mail.body}".strip(), "notices": notices})
    else:
        send_mail(settings, mail)


def compose(session: Session, settings: Settings, recipient: str, notices: list[dict[str, Any]]) -> Mail:
    """One notice, or a digest of several, in the recipient's language (the webhook's: the lab's)."""
    language = DEFAULT_LANGUAGE if recipient == WEBHOOK else language_of_address(session, recipient)
    values = {"notices": notices, "link": lab_link(settings, "/alerts")}
    return as_mail(recipient, render("alerts", language=language, values=values))


def _shown(recipient: str) -> str:
    return recipient if recipient == WEBHOOK else recipient.partition("@")[2] or "an address"
