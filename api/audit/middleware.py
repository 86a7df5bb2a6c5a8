"""Records every mutating request in the audit log, once, around all routers: a new endpoint is covered
without code of its own. Bodies are never stored (they may carry passwords); the answer is read only for
the target's id when the path has none (a creation) and for the problem's title."""

from __future__ import annotations

import json
import re
from collections.abc import MutableMapping
from typing import Any

from anyio import to_thread
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from provisioner.audit.log import ANONYMOUS, SUCCESS, Action, record, tenant_of
from provisioner.auth.actor import Actor
from provisioner.db import transaction

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Reads that change something: showing credentials spends the one time they are shown.
CHANGING_READS = ("/credentials",)
# Enough for the id and title of any JSON answer worth reading; longer answers are not parsed.
MAX_READ = 64 * 1024
ACTOR_KEY = "audit_actor"
# What an id looks like (``provisioner.ids``): a known prefix, an underscore, the random part.
_ID_IN_ADDRESS = re.compile(r"\b(?:ten|srv|bkt|ins|spc|job|usr|tok|sch|exp|bak)_[0-9a-z]{8,}\b")
# The problem titles of the API (``provisioner.errors``), for refusals answered with a page.
TITLES = {
    400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 409: "Conflict",
    410: "Gone", 422: "Invalid input", 429: "Too many requests", 503: "Service unavailable",
}  # fmt: skip


def remember_actor(scope_state: MutableMapping[str, Any], actor: Actor) -> None:
    """Called by the authentication dependency, so the log names who asked."""
    scope_state[ACTOR_KEY] = actor


def _audited(scope: Scope) -> bool:
    """Every change, through the API or a portal form; and the reads that spend something."""
    method, path = scope["method"], scope["path"]
    return method in MUTATING or (method == "GET" and path.endswith(CHANGING_READS))


def _action(scope: Scope) -> str:
    endpoint = scope.get("endpoint")
    name = getattr(endpoint, "__name__", None)
    return name or f"{scope['method']} {scope['path']}"


def _path_target(scope: Scope) -> str | None:
    params: dict[str, Any] = scope.get("path_params") or {}
    return next((str(v) for k, v in params.items() if k.endswith("_id")), None)


def _redirect_target(location: str | None) -> str | None:
    """A portal form that made something redirects to it: the first id in the address it sends to."""
    found = _ID_IN_ADDRESS.search(location or "")
    return found.group(0) if found else None


def _outcome(status: int | None, answer: dict[str, Any]) -> str:
    """The problem's title; for a portal page's refusal (HTML), the title the API gives its status."""
    if isinstance(answer.get("title"), str):
        return str(answer["title"])
    return TITLES.get(status or 500, "Internal error")


def _answer(body: bytes, content_type: str | None) -> dict[str, Any]:
    if not content_type or "json" not in content_type or len(body) > MAX_READ:
        return {}
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


class AuditMiddleware:
    def __init__(self, app: ASGIApp, *, database_url: str) -> None:
        self.app = app
        self.database_url = database_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _audited(scope):
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})
        status: int | None = None
        content_type: str | None = None
        location: str | None = None
        chunks: list[bytes] = []
        size = 0

        async def watch(message: Message) -> None:
            nonlocal status, content_type, location, size
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = Headers(raw=message.get("headers", []))
                content_type, location = headers.get("content-type"), headers.get("location")
            elif message["type"] == "http.response.body" and size <= MAX_READ:
                chunk = message.get("body", b"")
                size += len(chunk)
                chunks.append(chunk)
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            answer = _answer(b"".join(chunks), content_type) if status is not None else {}
            await to_thread.run_sync(self._record, scope, status, answer, location)

    def _record(self, scope: Scope, status: int | None, answer: dict[str, Any], location: str | None) -> None:
        actor: Actor | None = scope["state"].get(ACTOR_KEY)
        target = (
            _path_target(scope)
            or (str(answer["id"]) if isinstance(answer.get("id"), str) else None)
            or _redirect_target(location)
        )
        failed = status is None or status >= 400
        outcome = _outcome(status, answer) if failed else SUCCESS
        client = scope.get("client")
        with transaction(self.database_url) as session:
            tenant = actor.tenant_id if actor and actor.tenant_id else tenant_of(session, target)
            record(
                session,
                Action(
                    # A token or a person logged in to the portal.
                    actor=actor.principal if actor else ANONYMOUS,
                    action=_action(scope),
                    tenant_id=tenant,
                    target_id=target,
                    client_address=client[0] if client else None,
                    status_code=status if status is not None else 500,
                    outcome=outcome,
                ),
            )
