"""The lab's SMTP account kept in the database (password encrypted), set by ``provisioner mail configure``.

It overrides the ``PROVISIONER_SMTP_*`` settings; ``send_mail`` takes the settings this module returns.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from provisioner.config import Settings
from provisioner.crypto import decrypt, encrypt
from provisioner.models import MailSettings

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
) -> MailSettings:
    row = session.get(MailSettings, ROW_ID) or MailSettings(id=ROW_ID)
    row.host, row.port, row.starttls = host, port, starttls
    row.username, row.from_address = username, from_address
    row.password_encrypted = encrypt(settings, password) if password else None
    session.add(row)
    session.flush()
    return row


def mail_settings_for(session: Session, settings: Settings) -> Settings:
    """The settings to send mail with: the stored account when there is one, else the environment's."""
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
