"""The idempotency middleware on its own, driven as an ASGI server drives it."""

from __future__ import annotations

import anyio
from sqlalchemy import select
from starlette.types import Message, Receive, Scope, Send

from api.idempotency import IdempotencyMiddleware
from provisioner.db import session_factory
from provisioner.models import IdempotencyKey


def test_the_answer_is_kept_before_the_client_has_all_of_it(db_url: str) -> None:
    """A client may repeat the request the moment it has the answer; the repeat must be a replay."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send(
            {
                "type": "http.response.start",
                "status": 201,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"id": ', "more_body": True})
        await send({"type": "http.response.body", "body": b"1}"})

    kept_when_complete: list[bool] = []

    async def client_side(message: Message) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            with session_factory(db_url)() as session:
                row = session.scalars(select(IdempotencyKey)).one()
                kept_when_complete.append(row.completed_at is not None and row.body == b'{"id": 1}')

    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/instances",
        "query_string": b"",
        "headers": [(b"idempotency-key", b"key-1"), (b"authorization", b"Bearer some-token")],
    }
    anyio.run(IdempotencyMiddleware(app, database_url=db_url), scope, receive, client_side)
    assert kept_when_complete == [True]
