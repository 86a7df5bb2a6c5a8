"""The lab's ways out kept in the database, encrypted: its SMTP account (``provisioner mail configure`` or
the portal) and its webhook (``provisioner mail webhook`` or the portal).

They override the ``PROVISIONER_SMTP_*`` and ``PROVISIONER_ALERT_WEBHOOK_*`` settings; every sender takes
the settings ``mail_settings_for`` returns.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from provisioner.config import Settings
from provisioner.crypto import decrypt, encrypt
from provisioner.models import MailSettings, WebhookSettings

ROW_ID = 1


def configure_mail(
    session: Session,
    settings: Settings,
    *,
    host: str,
    port: int,
    starttls: bool,
    username: str,
    password: str | None,
    from_address: str,
    keep_password: bool = False,
) -> MailSettings:
    """``keep_password``: a ``password`` of None keeps the stored one while there is a username (a page or
    an API answer never shows it back, so a change of the host alone must not drop it)."""
    row = session.get(MailSettings, ROW_ID) or MailSettings(id=ROW_ID)
    kept = row.password_encrypted if keep_password and password is None and username else None
    row.host, row.port, row.starttls = host, port, starttls
    row.username, row.from_address = username, from_address
    row.password_encrypted = encrypt(settings, password) if password else kept
    session.add(row)
    session.flush()
    return row


def configure_webhook(
    session: Session, settings: Settings, *, url: str, secret: str | None
) -> WebhookSettings:
    """``secret`` None keeps the stored one (a page never shows it back); empty removes it."""
    row = session.get(WebhookSettings, ROW_ID) or WebhookSettings(id=ROW_ID, secret_encrypted=None)
    row.url_encrypted = encrypt(settings, url)
    if secret is not None:
        row.secret_encrypted = encrypt(settings, secret) if secret else None
    session.add(row)
    session.flush()
    return row


def remove_webhook(session: Session) -> None:
    """Back to the machine's settings (no webhook, unless PROVISIONER_ALERT_WEBHOOK_URL names one)."""
    row = session.get(WebhookSettings, ROW_ID)
    if row is not None:
        session.delete(row)
        session.flush()


def _with_webhook(session: Session, settings: Settings) -> Settings:
    row = session.get(WebhookSettings, ROW_ID)
    if row is None:
        return settings
    secret = decrypt(settings, row.secret_encrypted) if row.secret_encrypted else ""
    url = decrypt(settings, row.url_encrypted)
    return settings.model_copy(update={"alert_webhook_url": url, "alert_webhook_secret": secret})


def mail_settings_for(session: Session, settings: Settings) -> Settings:
    """The settings to send mail and webhooks with: the stored account and webhook where there are, else
    the environment's."""
    settings = _with_webhook(session, settings)
    row = session.get(MailSettings, ROW_ID)
    if row is None:
        return settings
    return settings.model_copy(
        update={
            "smtp_host": row.host,
            "smtp_port": row.port,
            "smtp_starttls": row.starttls,
            "smtp_username": row.username,
            "smtp_password": decrypt(settings, row.password_encrypted) if row.password_encrypted else "",
            "smtp_from": row.from_address,
        }
    )
