"""Domain errors. Each carries the HTTP status it maps to; one handler in the API renders them."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 400
    title = "Bad request"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class NotFound(DomainError):
    status_code = 404
    title = "Not found"


class Forbidden(DomainError):
    status_code = 403
    title = "Forbidden"


class Unauthorized(DomainError):
    status_code = 401
    title = "Unauthorized"


class Conflict(DomainError):
    status_code = 409
    title = "Conflict"


class Gone(DomainError):
    status_code = 410
    title = "Gone"


class InvalidInput(DomainError):
    status_code = 422
    title = "Invalid input"


class IllegalTransition(Conflict):
    title = "Not possible in the current state"


class TooManyRequests(DomainError):
    status_code = 429
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class ServiceUnavailable(DomainError):
    status_code = 503
    title = "Service unavailable"
