"""Outgoing e-mail over SMTP: invitations, password resets, alerts, notices.

Messages are plain text, with an HTML alternative when one is given; a failure raises ``MailError`` with the
server's words but never the password. Which account to send through is ``mail_config.mail_settings_for``'s
answer, never the environment's settings alone.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from provisioner.config import Settings


class MailError(Exception):
    """Sending failed; the message says why in words an operator can act on."""


@dataclass(frozen=True)
class Mail:
    to: tuple[str, ...]
    subject: str
    body: str
    # The same words as HTML, for mail programs that show it; the plain text stays the first part.
    html: str | None = None


def _message(settings: Settings, mail: Mail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = ", ".join(mail.to)
    # Header injection is refused by EmailMessage itself (a newline in a header raises ValueError).
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.smtp_from.rpartition("@")[2] or None)
    message.set_content(mail.body)
    if mail.html is not None:
        message.add_alternative(mail.html, subtype="html")
    return message


def send_mail(settings: Settings, mail: Mail) -> None:
    """Send one message; does nothing (and says so in the return of ``mail_enabled``) without a host."""
    if not mail_enabled(settings):
        return
    if not mail.to:
        raise MailError("the message has no recipient")
    message = _message(settings, mail)
    host, port = settings.smtp_host, settings.smtp_port
    try:
        with smtplib.SMTP(host, port, timeout=settings.smtp_timeout_seconds) as client:
            if settings.smtp_starttls:
                client.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                client.login(settings.smtp_username, settings.smtp_password or "")
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        # The exception text of smtplib names server replies, never the password we sent.
        raise MailError(f"sending mail through {host}:{port} failed: {exc}") from exc


def mail_enabled(settings: Settings) -> bool:
    return bool(settings.smtp_host)
