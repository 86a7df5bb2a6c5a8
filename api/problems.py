"""RFC 9457 problem details for every error, never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from provisioner.errors import DomainError, TooManyRequests

log = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "https://provisioner.invalid/problems/"
MEDIA_TYPE = "application/problem+json"


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + title.lower().replace(" ", "-"),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _field(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location)


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def _document(app: FastAPI) -> None:
    """Publish errors as they are answered: problem+json, instead of FastAPI's own validation body."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        components["Problem"] = PROBLEM_SCHEMA
        problem_response = {"content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if "422" in responses:
                    responses["422"] = {"description": "Invalid input", **problem_response}
                for code, response in responses.items():
                    if code.startswith("4"):  # a refusal a route declares (409 while in use, ...)
                        response.setdefault("content", problem_response["content"])
                responses["default"] = {
                    "description": "An error, as RFC 9457 problem details",
                    **problem_response,
                }
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    _document(app)

    @app.exception_handler(DomainError)
    async def domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else None
        return problem(exc.status_code, exc.title, exc.detail, errors=exc.errors, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # The input is not echoed back: it may hold something the sender did not mean to have logged.
        errors = [{"field": _field(tuple(e["loc"])), "message": e["msg"]} for e in exc.errors()]
        return problem(422, "Invalid input", "the request does not fit the API; see errors", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed", 401: "Unauthorized"}
        return problem(exc.status_code, titles.get(exc.status_code, "Error"), str(exc.detail))

    @app.exception_handler(DataError)
    async def unstorable(_request: Request, exc: DataError) -> JSONResponse:
        # A value the database cannot hold (a NUL character, an over-long id in a path): the input's fault.
        log.info("refused a value the database cannot store: %s", type(exc.orig).__name__)
        return problem(422, "Invalid input", "a value in the request cannot be stored or looked up")

    @app.exception_handler(PoolTimeout)
    async def busy(_request: Request, _exc: PoolTimeout) -> JSONResponse:
        # Every pooled database connection stayed taken for the pool's whole wait: the lab is busy, not
        # broken, and the caller may try again (a 500 would page an operator for a burst of traffic).
        log.warning("no database connection was free in time; answered 503")
        return problem(
            503, "Busy", "the lab is busy; try again in a few seconds", headers={"Retry-After": "5"}
        )

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return problem(
            500, "Internal error", "something went wrong on our side; the operators can see the log"
        )
