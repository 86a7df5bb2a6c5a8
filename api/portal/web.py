"""Wires the portal into the application: its pages, its static files, its headers and its error pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.portal import (
    account_pages,
    alert_pages,
    association_export_pages,
    association_pages,
    backup_pages,
    backup_schedule_pages,
    backup_target_pages,
    export_pages,
    first_start_pages,
    instance_action_pages,
    job_pages,
    lab_pages,
    offboarding_pages,
    operator_pages,
    schedule_pages,
    server_pages,
    service_pages,
    settings_pages,
    space_pages,
    team_pages,
)
from api.portal.auth import SignInRequired, login_location
from api.portal.rendering import render
from provisioner.errors import DomainError

# No inline script or style anywhere, so the policy needs no 'unsafe-inline'.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
PORTAL_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    # Invitation and reset links carry their token in the path: never hand it on to another site.
    (b"referrer-policy", b"no-referrer"),
]
ApiHandler = Callable[[Request, Exception], Awaitable[Response]]
NOT_PORTAL = ("/api/", "/docs", "/redoc", "/openapi.json", "/healthz", "/readyz", "/metrics")


def is_portal_path(path: str) -> bool:
    return not path.startswith(NOT_PORTAL)


class PortalHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_portal_path(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *PORTAL_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


def _error_page(request: Request, status: int) -> Response:
    return render(request, "error.html", {"status": status}, status_code=status)


def install(app: FastAPI) -> None:
    for module in (
        account_pages,
        association_pages,
        association_export_pages,
        service_pages,
        space_pages,
        backup_pages,
        backup_schedule_pages,
        backup_target_pages,
        export_pages,
        first_start_pages,
        instance_action_pages,
        job_pages,
        operator_pages,
        offboarding_pages,
        alert_pages,
        lab_pages,
        schedule_pages,
        server_pages,
        settings_pages,
        team_pages,
    ):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.add_middleware(PortalHeaders)
    # The API's own handlers (problem+json) answer everything that is not a portal page.
    api_domain_error: ApiHandler = app.exception_handlers[DomainError]  # type: ignore[assignment]
    api_http_error: ApiHandler = app.exception_handlers[StarletteHTTPException]  # type: ignore[assignment]

    @app.exception_handler(SignInRequired)
    async def sign_in(_request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(login_location(exc.next_path), status_code=303)

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        if is_portal_path(request.url.path):
            return _error_page(request, exc.status_code)
        return await api_domain_error(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if is_portal_path(request.url.path) and exc.status_code >= 400:
            return _error_page(request, exc.status_code)
        return await api_http_error(request, exc)
