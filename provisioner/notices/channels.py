"""The lab's two ways out — its SMTP account and its webhook — and the "send a test" the settings page offers.

The SMTP account is the one stored with ``provisioner mail configure`` (or the portal) when there is one,
else the ``PROVISIONER_SMTP_*`` settings: every sender asks ``mail_settings_for``, none reads the
environment alone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from provisioner.config import Settings
from provisioner.errors import Conflict, ServiceUnavailable
from provisioner.mail import Mail, MailError, mail_enabled, send_mail
from provisioner.mail_config import mail_settings_for
from provisioner.notices.render import Rendered, render

SIGNATURE_HEADER = "X-Provisioner-Signature"
NO_MAIL = "no mail server is configured (provisioner mail configure, or PROVISIONER_SMTP_HOST)"
NO_WEBHOOK = "no webhook is configured (the portal's settings, or PROVISIONER_ALERT_WEBHOOK_URL)"


class WebhookError(Exception):
    pass


def mail_configured(session: Session, settings: Settings) -> bool:
    """Whether mail leaves the lab at all; the portal says so plainly when it does not."""
    return mail_enabled(mail_settings_for(session, settings))


def webhook_configured(session: Session, settings: Settings) -> bool:
    """Whether the lab has a webhook, stored in the database or named by the machine's settings."""
    return bool(mail_settings_for(session, settings).alert_webhook_url)


def shown_webhook(url: str) -> str | None:
    """The webhook's address as a page may show it: a chat's incoming-webhook path is its credential."""
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"


def lab_link(settings: Settings, path: str = "/") -> str:
    return (settings.public_url or "http://127.0.0.1:8000").rstrip("/") + path


def as_mail(address: str, rendered: Rendered) -> Mail:
    return Mail(to=(address,), subject=rendered.subject, body=rendered.text, html=rendered.html)


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_webhook(settings: Settings, payload: dict[str, Any]) -> None:
    """POST JSON; ``payload["text"]`` is what chat receivers show as the message."""
    import httpx  # noqa: PLC0415 - loaded when used, so an idle worker stays small

    body = json.dumps(payload, sort_keys=True).encode()
    headers = {"Content-Type": "application/json"}
    if settings.alert_webhook_secret:
        headers[SIGNATURE_HEADER] = signature(settings.alert_webhook_secret, body)
    try:
        response = httpx.post(settings.alert_webhook_url, content=body, headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        raise WebhookError(f"the webhook did not answer: {type(exc).__name__}") from exc
    if response.status_code >= 300:
        raise WebhookError(f"the webhook answered {response.status_code}")


def webhook_payload(kind: str, rendered: Rendered, values: dict[str, Any]) -> dict[str, Any]:
    """Mattermost and Slack-compatible incoming webhooks show ``text`` as the message; Matrix hookshot's
    generic webhooks take ``text`` as the message body too (its documentation, setup/webhooks)."""
    text = f"{rendered.subject}\n\n{rendered.text}".strip()
    return {"text": text, "kind": kind, "subject": rendered.subject, **values}


def send_test_mail(session: Session, settings: Settings, *, to: str, language: str | None) -> None:
    """Send a test message to ``to`` at once through the lab's account.

    ``Conflict`` when no mail server is configured; ``ServiceUnavailable`` with the server's words (never the
    password) when it refuses or does not answer.
    """
    effective = mail_settings_for(session, settings)
    if not mail_enabled(effective):
        raise Conflict(NO_MAIL)
    rendered = render("test", language=language, values={"lab_url": lab_link(settings)})
    try:
        send_mail(effective, as_mail(to, rendered))
    except MailError as exc:
        raise ServiceUnavailable(str(exc)) from exc


def send_test_webhook(session: Session, settings: Settings, *, language: str | None) -> None:
    """Post a test notice to the lab's webhook at once: ``Conflict`` when none is set, ``ServiceUnavailable``
    when it does not take it."""
    effective = mail_settings_for(session, settings)
    if not effective.alert_webhook_url:
        raise Conflict(NO_WEBHOOK)
    rendered = render("test", language=language, values={"lab_url": lab_link(settings)})
    try:
        post_webhook(effective, webhook_payload("test", rendered, {}))
    except WebhookError as exc:
        raise ServiceUnavailable(str(exc)) from exc
