from __future__ import annotations

from fastapi import APIRouter, Response, status
from sqlalchemy.orm import Session

from api.deps import ActorDep, SessionDep, SettingsDep
from api.settings import schemas
from provisioner.config import Settings
from provisioner.mail import mail_enabled
from provisioner.mail_config import (
    ROW_ID,
    configure_mail,
    configure_webhook,
    mail_settings_for,
    remove_webhook,
)
from provisioner.models import MailSettings, WebhookSettings
from provisioner.notices.channels import send_test_mail, send_test_webhook, shown_webhook

router = APIRouter(prefix="/api/v1/settings", tags=["settings"])
Source = schemas.Source


def _mail(session: Session, settings: Settings) -> schemas.MailOut:
    stored = session.get(MailSettings, ROW_ID)
    effective = mail_settings_for(session, settings)
    source = Source.STORED if stored else Source.ENVIRONMENT if settings.smtp_host else Source.NONE
    return schemas.MailOut(
        configured=mail_enabled(effective),
        source=source,
        host=effective.smtp_host,
        port=effective.smtp_port,
        starttls=effective.smtp_starttls,
        username=effective.smtp_username,
        from_address=effective.smtp_from,
        password_set=bool(effective.smtp_password),
    )


def _webhook(session: Session, settings: Settings) -> schemas.WebhookOut:
    stored = session.get(WebhookSettings, ROW_ID)
    effective = mail_settings_for(session, settings)
    source = Source.STORED if stored else Source.ENVIRONMENT if settings.alert_webhook_url else Source.NONE
    return schemas.WebhookOut(
        configured=bool(effective.alert_webhook_url),
        source=source,
        shown_url=shown_webhook(effective.alert_webhook_url),
        secret_set=bool(effective.alert_webhook_secret),
    )


@router.get("/mail")
def get_mail_settings(actor: ActorDep, session: SessionDep, settings: SettingsDep) -> schemas.MailOut:
    """The SMTP account notices and invitations go out through (operators); the password is never shown,
    only whether one is set."""
    actor.require_operator()
    return _mail(session, settings)


@router.put("/mail")
def put_mail_settings(
    body: schemas.MailIn, actor: ActorDep, session: SessionDep, settings: SettingsDep
) -> schemas.MailOut:
    """Store the lab's SMTP account (operators), as `provisioner mail configure` does; it overrides the
    machine's `PROVISIONER_SMTP_*`. Leaving out `password` keeps the stored one."""
    actor.require_operator()
    password = body.password.get_secret_value() if body.password is not None else None
    configure_mail(
        session, settings, host=body.host, port=body.port, starttls=body.starttls, username=body.username,
        password=password, from_address=body.from_address, keep_password=password is None,
    )  # fmt: skip
    session.commit()
    return _mail(session, settings)


@router.post("/mail/test", status_code=status.HTTP_204_NO_CONTENT)
def test_mail_settings(
    body: schemas.MailTestIn, actor: ActorDep, session: SessionDep, settings: SettingsDep
) -> Response:
    """Send a test message to `to` now through the lab's account (operators): 409 when no mail server is
    configured, 503 with the mail server's answer when it refuses or does not answer."""
    actor.require_operator()
    send_test_mail(session, settings, to=body.to, language=body.language)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/webhook")
def get_webhook_settings(actor: ActorDep, session: SessionDep, settings: SettingsDep) -> schemas.WebhookOut:
    """The webhook the operators' notices are posted to (operators): its scheme and host only, since a
    chat's incoming-webhook path is its credential, and whether requests are signed."""
    actor.require_operator()
    return _webhook(session, settings)


@router.put("/webhook")
def put_webhook_settings(
    body: schemas.WebhookIn, actor: ActorDep, session: SessionDep, settings: SettingsDep
) -> schemas.WebhookOut:
    """Store the webhook (operators), as `provisioner mail webhook` does. Leaving out `secret` keeps the
    stored one; an empty `secret` stops signing."""
    actor.require_operator()
    secret = body.secret.get_secret_value() if body.secret is not None else None
    configure_webhook(session, settings, url=body.url.get_secret_value(), secret=secret)
    session.commit()
    return _webhook(session, settings)


@router.delete("/webhook", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook_settings(actor: ActorDep, session: SessionDep) -> Response:
    """Forget the stored webhook (operators): the machine's `PROVISIONER_ALERT_WEBHOOK_URL` applies again."""
    actor.require_operator()
    remove_webhook(session)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/webhook/test", status_code=status.HTTP_204_NO_CONTENT)
def test_webhook_settings(
    body: schemas.WebhookTestIn, actor: ActorDep, session: SessionDep, settings: SettingsDep
) -> Response:
    """Post a test notice to the webhook now (operators): 409 when none is set, 503 when it does not take
    it."""
    actor.require_operator()
    send_test_webhook(session, settings, language=body.language)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
