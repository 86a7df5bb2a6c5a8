"""``Idempotency-Key`` on every POST: same key and body → the first answer; other body → 422;
still being answered → 409. Keys belong to the principal (a token, a person) whose credentials sent
them, checked before anything is replayed, and live 24 hours. An answer that carries a secret
(``Cache-Control: no-store``, such as a minted token) is not kept: its repeat is told so (409)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from anyio import to_thread
from sqlalchemy.orm import Session
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.presented import Presented
from api.problems import MEDIA_TYPE, PROBLEM_TYPE_BASE, problem
from provisioner.db import session_factory
from provisioner.idempotency import KeyClaim, KeyState, claim_key, complete_key, release_key

MAX_KEY_LENGTH = 255
# What a repeat of a request whose answer held a secret gets instead of that answer.
SECRET_NOT_KEPT = (
    409,
    json.dumps(
        {
            "type": PROBLEM_TYPE_BASE + "conflict",
            "title": "Conflict",
            "status": 409,
            "detail": "this request was done already; its answer held a secret that is shown only once "
            "and was not kept",
        }
    ).encode(),
)


def _principal(session: Session, *, presented: Presented) -> str | None:
    actor = presented.actor(session, change=True)
    return None if actor is None else actor.principal


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, *, database_url: str) -> None:
        self.app = app
        self.sessions = session_factory(database_url)

    def _run(self, fn: Callable[..., Any], **kwargs: Any) -> Awaitable[Any]:
        def call() -> Any:
            with self.sessions() as session:
                return fn(session, **kwargs)

        return to_thread.run_sync(call)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = headers.get("idempotency-key")
        if key is None:
            await self.app(scope, receive, send)
            return
        if not key or len(key) > MAX_KEY_LENGTH:
            response = problem(
                422,
                "Invalid input",
                "the Idempotency-Key header must be 1 to 255 characters",
                errors=[{"field": "header.Idempotency-Key", "message": "1 to 255 characters"}],
            )
            await response(scope, receive, send)
            return
        owner = await self._run(_principal, presented=Presented.of(headers))
        if owner is None:
            # Unknown, revoked or incomplete credentials: nothing is replayed, the route refuses them.
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        request_hash = hashlib.sha256(
            b"\0".join([scope["path"].encode(), scope.get("query_string", b""), body])
        ).hexdigest()
        claim: KeyClaim = await self._run(claim_key, scope=owner, key=key, request_hash=request_hash)
        if claim.state is KeyState.NEW:
            await self._answer_and_keep(scope, body, send, owner=owner, key=key)
        else:
            await self._answer_claimed(claim, scope, receive, send)

    async def _answer_claimed(self, claim: KeyClaim, scope: Scope, receive: Receive, send: Send) -> None:
        if claim.state is KeyState.MISMATCH:
            await problem(422, "Invalid input", "this Idempotency-Key was used with a different request")(
                scope, receive, send
            )
        elif claim.state is KeyState.IN_FLIGHT:
            await problem(409, "Conflict", "a request with this Idempotency-Key is still being answered")(
                scope, receive, send
            )
        else:
            await self._replay(claim, send)

    async def _replay(self, claim: KeyClaim, send: Send) -> None:
        raw_headers = [(b"idempotent-replayed", b"true")]
        if claim.content_type:
            raw_headers.append((b"content-type", claim.content_type.encode()))
        await send(
            {"type": "http.response.start", "status": claim.status_code or 200, "headers": raw_headers}
        )
        await send({"type": "http.response.body", "body": claim.body or b""})

    async def _answer_and_keep(self, scope: Scope, body: bytes, send: Send, *, owner: str, key: str) -> None:
        sent_body = False

        async def replay_body() -> Message:
            nonlocal sent_body
            if sent_body:
                return {"type": "http.disconnect"}
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}

        start: MutableMapping[str, Any] = {}
        chunks: list[bytes] = []
        settled = False

        async def settle() -> None:
            nonlocal settled
            status = int(start.get("status", 500))
            headers = Headers(raw=start.get("headers", []))
            if status >= 500:
                await self._run(release_key, scope=owner, key=key)
            elif "no-store" in headers.get("cache-control", ""):
                await self._run(
                    complete_key,
                    scope=owner,
                    key=key,
                    status_code=SECRET_NOT_KEPT[0],
                    body=SECRET_NOT_KEPT[1],
                    content_type=MEDIA_TYPE,
                )
            else:
                await self._run(
                    complete_key,
                    scope=owner,
                    key=key,
                    status_code=status,
                    body=b"".join(chunks),
                    content_type=headers.get("content-type"),
                )
            settled = True

        async def keep(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    # Kept before the client has the whole answer: a repeat sent the moment it has it
                    # must get the answer again, not "still being answered".
                    await settle()
            await send(message)

        try:
            await self.app(scope, replay_body, keep)
        except BaseException:
            if not settled:
                await self._run(release_key, scope=owner, key=key)
            raise
        if not settled:
            await settle()
