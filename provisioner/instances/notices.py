"""Mail to an association's contact about its request. In German and English: we do not know its language."""

from __future__ import annotations

from provisioner.config import Settings
from provisioner.mail import Mail, send_mail
from provisioner.models import Instance


def mail_rejection(settings: Settings, instance: Instance) -> None:
    """Raises ``MailError`` when the mail server refuses; the rejection itself stands."""
    reason = instance.state_reason or ""
    body = (
        f"Guten Tag,\n\nIhre Anfrage für den Dienst „{instance.name}“ ({instance.template}) wurde "
        f"abgelehnt. Begründung:\n\n{reason}\n\nBei Fragen antworten Sie einfach auf diese Nachricht.\n\n"
        "-- \n\n"
        f'Hello,\n\nyour request for the service "{instance.name}" ({instance.template}) was declined. '
        f"Reason:\n\n{reason}\n\nIf you have questions, simply reply to this message.\n"
    )
    subject = f"Anfrage abgelehnt / Request declined: {instance.name}"
    send_mail(settings, Mail(to=(instance.tenant.contact_email,), subject=subject, body=body))
