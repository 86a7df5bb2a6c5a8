"""Every HTTP request gets an id: on each log line written while it is served, and in the answer's
``X-Request-ID`` header, so a person's report ("it failed, id …") finds its lines."""

from __future__ import annotations

import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from provisioner.logs import request_id

HEADER = b"x-request-id"
# A proxy in front may send its own id, which then links its log to ours. Anything else is replaced, so
# what a client sends can never put text of its choice into the logs.
ACCEPTED = re.compile(rb"[A-Za-z0-9._-]{8,64}")


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope["headers"]).get(HEADER, b"")
        value = sent.decode() if ACCEPTED.fullmatch(sent) else uuid.uuid4().hex

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (HEADER, value.encode())]
            await send(message)

        token = request_id.set(value)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
