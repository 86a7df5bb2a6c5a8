"""Records every mutating request in the audit log, once, around all routers: a new endpoint is covered
without code of its own. Bodies are never stored (they may carry passwords); the answer is read only for
the target's id when the path has none (a creation) and for the problem's title."""

from __future__ import annotations

import json
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
        chunks: list[bytes] = []
        size = 0

        async def watch(message: Message) -> None:
            nonlocal status, content_type, size
            if message["type"] == "http.response.start":
                status = int(message["status"])
                content_type = Headers(raw=message.get("headers", [])).get("content-type")
            elif message["type"] == "http.response.body" and size <= MAX_READ:
                chunk = message.get("body", b"")
                size += len(chunk)
                chunks.append(chunk)
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            answer = _answer(b"".join(chunks), content_type) if status is not None else {}
            await to_thread.run_sync(self._record, scope, status, answer)

    def _record(self, scope: Scope, status: int | None, answer: dict[str, Any]) -> None:
        actor: Actor | None = scope["state"].get(ACTOR_KEY)
        target = _path_target(scope) or (str(answer["id"]) if isinstance(answer.get("id"), str) else None)
        failed = status is None or status >= 400
        outcome = str(answer.get("title") or "Internal error") if failed else SUCCESS
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
