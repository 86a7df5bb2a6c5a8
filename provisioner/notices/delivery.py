"""Sends queued notices: run by a worker every few seconds, never inside a request.

A notice is claimed by moving its due time past a lease before it is sent, so two workers never send it
twice; a failure puts it back with a growing pause until ``MAX_ATTEMPTS`` tries have failed. Without a mail
server, mail notices are given up at once with that reason (the portal says plainly that mail is off).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from provisioner.catalog.loader import Catalog
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.errors import NotFound
from provisioner.mail import MailError, mail_enabled, send_mail
from provisioner.mail_config import mail_settings_for
from provisioner.models import Instance, Job, Offboarding, OutgoingNotice, Server
from provisioner.notices.certificate import asked_values, certificate_values
from provisioner.notices.channels import (
    NO_MAIL,
    WebhookError,
    as_mail,
    lab_link,
    post_webhook,
    webhook_payload,
)
from provisioner.notices.outbox import OPERATORS, WEBHOOK, NoticeKind, expand_operators
from provisioner.notices.render import Rendered, render
from provisioner.timeutil import utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
FIRST_PAUSE = timedelta(seconds=30)  # then 1, 2, 4, 8 minutes: a mail server's restart is waited out
LEASE = timedelta(minutes=5)
BATCH = 50


class NotDelivered(Exception):
    pass


def retry_pause(attempts: int) -> timedelta:
    return FIRST_PAUSE * (1 << max(attempts - 1, 0))


def deliver_due(settings: Settings, catalog: Catalog) -> int:
    """Send what is due; returns how many notices went out."""
    return sum(_deliver_one(settings, catalog, notice_id) for notice_id in _claim(settings))


def _claim(settings: Settings) -> list[int]:
    now = utcnow()
    claimed: list[int] = []
    with transaction(settings.resolved_database_url) as session:
        for notice in session.scalars(
            select(OutgoingNotice)
            .where(OutgoingNotice.recipient == OPERATORS, OutgoingNotice.due_at <= now)
            .with_for_update(skip_locked=True)
        ):
            expand_operators(session, settings, notice)
    now = utcnow()  # the rows just written for each operator are due too
    with transaction(settings.resolved_database_url) as session:
        due = session.execute(
            select(OutgoingNotice.id, OutgoingNotice.due_at)
            .where(OutgoingNotice.due_at <= now, OutgoingNotice.attempts < MAX_ATTEMPTS)
            .order_by(OutgoingNotice.id)
            .limit(BATCH)
        ).all()
        for notice_id, due_at in due:
            taken = session.execute(
                update(OutgoingNotice)
                .where(OutgoingNotice.id == notice_id, OutgoingNotice.due_at == due_at)
                .values(due_at=now + LEASE, attempts=OutgoingNotice.attempts + 1)
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(notice_id)
    return claimed


def _deliver_one(settings: Settings, catalog: Catalog, notice_id: int) -> int:
    url = settings.resolved_database_url
    with transaction(url) as session:
        notice = session.get_one(OutgoingNotice, notice_id)
        recipient, attempts, kind, values = notice.recipient, notice.attempts, notice.kind, notice.values
        rendered = render(kind, language=notice.language, values=_values(session, settings, catalog, notice))
        sender = mail_settings_for(session, settings)
    try:
        _send(sender, recipient, kind, rendered, values)
    except (MailError, WebhookError, NotDelivered) as exc:
        give_up = isinstance(exc, NotDelivered) or attempts >= MAX_ATTEMPTS
        log.warning("notice %s (%s) could not be sent, try %s: %s", notice_id, kind, attempts, exc)
        with transaction(url) as session:
            session.execute(
                update(OutgoingNotice)
                .where(OutgoingNotice.id == notice_id)
                .values(error=str(exc), due_at=None if give_up else utcnow() + retry_pause(attempts))
            )
        return 0
    with transaction(url) as session:
        session.execute(
            update(OutgoingNotice)
            .where(OutgoingNotice.id == notice_id)
            .values(sent_at=utcnow(), due_at=None, error=None)
        )
    return 1


def _server_values(session: Session, settings: Settings, notice: OutgoingNotice) -> dict[str, Any]:
    """A server's own job: its name and address, what the job said, and its page."""
    server = session.get_one(Server, notice.values["server_id"])
    job = session.get_one(Job, notice.values["job_id"])
    return {
        "server": server.name,
        "address": server.address,
        "status": job.status,
        "error": job.error or "",
        "link": lab_link(settings, f"/jobs/{job.id}"),
    }


def _send(sender: Settings, recipient: str, kind: str, rendered: Rendered, values: dict[str, Any]) -> None:
    if recipient == WEBHOOK:
        post_webhook(sender, webhook_payload(kind, rendered, values))
        return
    if not mail_enabled(sender):
        raise NotDelivered(NO_MAIL)
    send_mail(sender, as_mail(recipient, rendered))


def _values(session: Session, settings: Settings, catalog: Catalog, notice: OutgoingNotice) -> dict[str, Any]:
    """What the template shows, read now: names, the service's title and address, the job's outcome."""
    if notice.kind == NoticeKind.DELETION_RECORD:
        return certificate_values(session.get_one(Offboarding, notice.values["offboarding_id"]))
    if notice.kind == NoticeKind.OFFBOARDING_ASKED:
        asked = session.get_one(Offboarding, notice.values["offboarding_id"])
        link = lab_link(settings, f"/associations/{asked.tenant_id}/offboarding")
        return asked_values(asked) | {"link": link}
    if "server_id" in notice.values:
        return _server_values(session, settings, notice)
    instance = session.get_one(Instance, notice.values["instance_id"])
    english = notice.language == "en"
    try:
        template = catalog.get(instance.template)
    except NotFound:  # taken out of the catalog since: its name will do
        title, first_steps = instance.template, ""
    else:
        title = template.title.en if english else template.title.de
        steps = template.first_steps
        first_steps = (steps.en if english else steps.de) if steps is not None else ""
    found: dict[str, Any] = {
        "instance": instance.name,
        "service": title,
        "tenant": instance.tenant.name,
        "link": lab_link(settings, f"/services/{instance.id}"),
        "reason": instance.state_reason or "",
        "url": instance.url or "",
        "first_steps": [p.strip() for p in first_steps.split("\n\n") if p.strip()],
        "version": instance.version,
    }
    if notice.kind == NoticeKind.REQUEST_WAITING:
        found["link"] = lab_link(settings, "/operator/requests")
    if job_id := notice.values.get("job_id"):
        job = session.get_one(Job, job_id)
        found |= {"kind": job.kind, "status": job.status, "error": job.error or ""}
        found["version"] = job.target_version or instance.version
        if notice.kind == NoticeKind.JOB_FAILED:
            found["link"] = lab_link(settings, f"/jobs/{job.id}")
    return found
