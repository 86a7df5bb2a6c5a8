"""Renders portal pages: every page gets the language, its texts, the signed-in person and a CSRF token."""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.requests import Request

from api.portal.i18n import LANGUAGES, Texts, choose_language
from api.portal.service_messages import said
from provisioner.schedules.timing import lab_zone

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
# The texts of the page being rendered, for macros imported without the page's context (``when``).
_rendering: ContextVar[Texts] = ContextVar("portal_texts")


def texts_for(request: Request) -> Texts:
    return Texts(choose_language(request), lab_zone(request.app.state.settings.timezone))


def written_when(value: datetime | None) -> Markup:
    """A moment as the page's language writes it, machine-readable in ``datetime``; a dash for none."""
    if value is None:
        return Markup("\N{EN DASH}")
    return Markup('<time datetime="{}">{}</time>').format(value.isoformat(), _rendering.get().moment(value))


templates.env.globals["written_when"] = written_when


def _backups_recoverable(request: Request) -> bool:
    settings = getattr(request.app.state, "settings", None)
    return settings is None or bool(settings.recovery_recipients)


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> HTMLResponse:
    texts = texts_for(request)
    viewer = getattr(request.state, "viewer", None)
    values: dict[str, Any] = {
        "lang": texts.language,
        "languages": LANGUAGES,
        "_": texts.gettext,
        "ngettext": texts.ngettext,
        "number": texts.number,
        "moment": texts.moment,
        "said": lambda message: said(texts, message),
        "local": lambda pair: getattr(pair, texts.language),
        "viewer": viewer,
        "csrf_token": viewer.csrf_token if viewer else getattr(request.state, "form_token", ""),
        "here": request.url.path,
        # Operators are told on every page while the backups cannot outlive the control plane.
        "backups_recoverable": _backups_recoverable(request),
    }
    values.update(context or {})
    rendering = _rendering.set(texts)
    try:
        response = templates.TemplateResponse(request, name, values, status_code=status_code)
    finally:
        _rendering.reset(rendering)
    token = getattr(request.state, "set_form_token", None)
    if token:
        response.set_cookie(**token)
    return response
