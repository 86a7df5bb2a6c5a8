"""A health request over asyncio's streams against servers on loopback that answer well, badly or too much."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from provisioner.health.fetch import MAX_ANSWER, Answer, BadAnswer, fetch, parse
from provisioner.health.tls import trusting
from tests.support.health_stub import health_stub, make_ca, server_context

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _ask(handler: Handler, path: str = "/health") -> tuple[Answer, bytes]:
    """What fetch makes of ``handler``'s answer, and the request the handler read."""
    seen = bytearray()
    served = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            seen.extend(await reader.readuntil(b"\r\n\r\n"))
            await handler(reader, writer)
        finally:
            writer.close()
            served.set()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        answer = await fetch(
            f"http://127.0.0.1:{port}{path}", host="site.example.test", server_hostname=None, context=None,
            timeout=5,
        )  # fmt: skip
        await asyncio.wait_for(served.wait(), 5)  # the server's side closed too, before the loop ends
    return answer, bytes(seen)


def _answering(raw: bytes) -> Handler:
    async def handler(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(raw)
        await writer.drain()

    return handler


def test_the_request_names_the_instance_and_the_answer_ends_at_its_length() -> None:
    answer, request = asyncio.run(
        _ask(_answering(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA"), "/healthz?full=1")
    )
    assert answer == Answer(200, b"ok")
    assert request.startswith(b"GET /healthz?full=1 HTTP/1.0\r\n")
    assert b"\r\nHost: site.example.test\r\n" in request
    assert b"Connection: close" in request


@pytest.mark.parametrize(
    "raw", [b"", b"SSH-2.0-OpenSSH_9.2\r\n", b"HTTP/1.1 2x0 OK\r\n\r\n", b"HTTP/1.1 200 OK\r\nno end"]
)
def test_what_is_not_an_http_answer_is_refused(raw: bytes) -> None:
    with pytest.raises(BadAnswer):
        asyncio.run(_ask(_answering(raw)))


def test_an_endless_answer_is_read_no_further_than_the_limit() -> None:
    async def endless(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\n\r\n")
        try:
            for _ in range(4 * MAX_ANSWER // 65536):
                writer.write(b"x" * 65536)
                await writer.drain()
        except ConnectionError:
            pass  # the client stopped reading at its limit and closed

    answer, _ = asyncio.run(_ask(endless))
    assert answer.status == 200
    assert len(answer.content) < MAX_ANSWER


def test_a_certificate_for_another_name_is_refused(tmp_path: Path) -> None:
    ca = make_ca("proxy CA")
    with health_stub(server_context(ca, ["other.example.test"], tmp_path)) as stub:

        async def ask(name: str) -> Answer:
            return await fetch(
                f"https://{stub.address}/",
                host=name,
                server_hostname=name,
                context=trusting(ca.pem),
                timeout=5,
            )

        assert asyncio.run(ask("other.example.test")).status == 200
        with pytest.raises(OSError, match="certificate"):
            asyncio.run(ask("site.example.test"))


def test_parse_takes_the_status_and_headers_in_any_case() -> None:
    assert parse(b"HTTP/1.0 503 Service Unavailable\r\ncontent-length: 4\r\n\r\nsick") == Answer(503, b"sick")


def test_an_answer_of_known_length_ends_there_though_the_server_keeps_the_connection_open() -> None:
    async def keeps_open(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        await reader.read()  # until the client goes: it never closes on its own

    answer, _ = asyncio.run(_ask(keeps_open))
    assert answer == Answer(200, b"ok")
