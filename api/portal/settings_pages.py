"""The lab's ways out in the portal: its SMTP account (kept in the database, as ``provisioner mail
configure`` keeps it) and its webhook, each with a "send a test" that goes out at once."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from api.deps import SessionDep, SettingsDep
from api.portal.auth import OperatorDep, SignedForm
from api.portal.forms import pydantic_errors
from api.portal.i18n import N_, choose_language
from api.portal.rendering import render
from api.servers.schemas import HOST
from provisioner.errors import DomainError
from provisioner.mail_config import (
    ROW_ID,
    configure_mail,
    configure_webhook,
    mail_settings_for,
    remove_webhook,
)
from provisioner.models import MailSettings, WebhookSettings
from provisioner.notices.channels import mail_configured, send_test_mail, send_test_webhook, shown_webhook
from provisioner.tenants.rules import EMAIL

router = APIRouter(prefix="/operator/settings", include_in_schema=False)
FIELDS = ("host", "port", "username", "from_address")
MESSAGES = {
    "host": N_("The mail server's host name, e.g. smtp.example.org."),
    "port": N_("A port number from 1 to 65535, usually 587 or 25."),
    "username": N_("Up to 254 characters, or empty when the server needs no login."),
    "from_address": N_("The sender address, e.g. lab@example.org."),
    "url": N_("The webhook's full http:// or https:// address, as the chat software shows it."),
}
NOTICES = {"saved", "mail-sent", "webhook-saved", "webhook-removed", "webhook-sent"}
Notice = Annotated[str | None, Query(max_length=20)]


class MailAccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field(pattern=HOST, max_length=253)
    port: int = Field(ge=1, le=65535)
    starttls: bool
    username: str = Field(max_length=254)
    from_address: str = Field(pattern=EMAIL, max_length=254)


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2000)

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
            raise ValueError("an http:// or https:// address")
        return url


def _page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    webhook_errors: dict[str, str] | None = None,
    notice: str | None = None,
    refused: str | None = None,
    status_code: int = 200,
) -> Response:
    effective = mail_settings_for(session, settings)
    stored = session.get(MailSettings, ROW_ID)
    shown = values or {
        "host": effective.smtp_host,
        "port": str(effective.smtp_port),
        "username": effective.smtp_username,
        "from_address": effective.smtp_from,
        "starttls": "on" if effective.smtp_starttls else "",
    }
    context = {
        "values": shown,
        "errors": errors or {},
        "mail_on": mail_configured(session, settings),
        "has_password": bool(stored and stored.password_encrypted),
        "webhook_errors": webhook_errors or {},
        "webhook": shown_webhook(effective.alert_webhook_url),
        "webhook_stored": session.get(WebhookSettings, ROW_ID) is not None,
        "webhook_signed": bool(effective.alert_webhook_secret),
        "notice": notice if notice in NOTICES else None,
        "refused": refused,
    }
    return render(request, "operator/settings.html", context, status_code=status_code)


@router.get("")
def settings_page(
    request: Request, viewer: OperatorDep, session: SessionDep, settings: SettingsDep, notice: Notice = None
) -> Response:
    return _page(request, session, settings, notice=notice)


@router.post("/mail")
def save_mail(
    request: Request, *, viewer: OperatorDep, form: SignedForm, session: SessionDep, settings: SettingsDep
) -> Response:
    values = {key: form.get(key, "").strip() for key in FIELDS} | {"starttls": form.get("starttls", "")}
    try:
        body = MailAccountIn.model_validate({**values, "starttls": bool(values["starttls"])})
    except ValidationError as exc:
        errors = {name: MESSAGES[name] for name in pydantic_errors(exc) if name in MESSAGES}
        return _page(request, session, settings, values=values, errors=errors, status_code=422)
    # An empty password field keeps the stored password (a page never shows it back).
    configure_mail(
        session, settings, host=body.host, port=body.port, starttls=body.starttls, username=body.username,
        password=form.get("password") or None, from_address=body.from_address, keep_password=True,
    )  # fmt: skip
    session.commit()
    return RedirectResponse("/operator/settings?notice=saved", status_code=303)


@router.post("/mail/test")
def test_mail(
    request: Request, *, viewer: OperatorDep, form: SignedForm, session: SessionDep, settings: SettingsDep
) -> Response:
    """To the operator who asks, in the page's language."""
    try:
        send_test_mail(session, settings, to=viewer.web_session.user.email, language=choose_language(request))
    except DomainError as exc:
        return _page(request, session, settings, refused=exc.detail, status_code=exc.status_code)
    return RedirectResponse("/operator/settings?notice=mail-sent", status_code=303)


@router.post("/webhook")
def save_webhook(
    request: Request, *, viewer: OperatorDep, form: SignedForm, session: SessionDep, settings: SettingsDep
) -> Response:
    """An empty secret field keeps the stored secret; "remove the secret" drops it."""
    try:
        body = WebhookIn.model_validate({"url": form.get("url", "").strip()})
    except ValidationError as exc:
        errors = {name: MESSAGES[name] for name in pydantic_errors(exc) if name in MESSAGES}
        return _page(request, session, settings, webhook_errors=errors, status_code=422)
    secret = "" if form.get("drop_secret") else (form.get("secret") or None)
    configure_webhook(session, settings, url=body.url, secret=secret)
    session.commit()
    return RedirectResponse("/operator/settings?notice=webhook-saved#webhook-heading", status_code=303)


@router.post("/webhook/remove")
def drop_webhook(
    request: Request, *, viewer: OperatorDep, form: SignedForm, session: SessionDep, settings: SettingsDep
) -> Response:
    remove_webhook(session)
    session.commit()
    return RedirectResponse("/operator/settings?notice=webhook-removed#webhook-heading", status_code=303)


@router.post("/webhook/test")
def test_webhook(
    request: Request, *, viewer: OperatorDep, form: SignedForm, session: SessionDep, settings: SettingsDep
) -> Response:
    try:
        send_test_webhook(session, settings, language=choose_language(request))
    except DomainError as exc:
        return _page(request, session, settings, refused=exc.detail, status_code=exc.status_code)
    return RedirectResponse("/operator/settings?notice=webhook-sent", status_code=303)
