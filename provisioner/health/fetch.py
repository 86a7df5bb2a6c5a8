"""One health request on asyncio's own streams: a GET over a fresh connection, its status and its body.

The sweep asks thousands of instances, each over a connection of its own (each instance's certificate
and server name are checked anew). A general client's machinery per request (connection pools,
header objects, redirects, decompression) cost the sweep most of its time, see
benchmarks/results.md; this asks the one thing it needs. It speaks HTTP/1.0 with ``Connection:
close``, so the answer can come neither chunked nor compressed (we send no Accept-Encoding) and ends
where the connection ends. What the server sends is untrusted: at most ``MAX_ANSWER`` bytes are read,
and an answer that is no HTTP response is a failure, never an exception.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_ANSWER = 256 * 1024  # status line, headers and body; health answers are a few bytes


class BadAnswer(Exception):
    """The server answered something that is not an HTTP response."""


@dataclass(frozen=True)
class Answer:
    status: int
    content: bytes


def _request(path: str, host: str) -> bytes:
    if any(c in f"{path}{host}" for c in "\r\n\x00 "):  # a template's path or a hostname: never a header
        raise ValueError("a health request's path and host are one token each")
    return (
        f"GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: provisioner-health\r\n"
        "Accept: */*\r\nConnection: close\r\n\r\n"
    ).encode("ascii")


def _complete(raw: bytes) -> bool:
    """Whether the answer so far holds its headers and as much body as its Content-Length says."""
    head, found, body = raw.partition(b"\r\n\r\n")
    if not found:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return len(body) >= int(value.strip())
    return False


def parse(raw: bytes) -> Answer:
    head, found, body = raw.partition(b"\r\n\r\n")
    if not found:
        raise BadAnswer("no end of the headers")
    status_line, *header_lines = head.split(b"\r\n")
    version, _, rest = status_line.partition(b" ")
    code = rest[:3]
    if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise BadAnswer("no HTTP status line")
    for line in header_lines:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            body = body[: int(value.strip())]
    return Answer(int(code), body)


async def fetch(
    url: str, *, host: str, server_hostname: str | None, context: ssl.SSLContext | None, timeout: float
) -> Answer:
    """GET ``url`` (at the server's address) with ``host`` as Host header; TLS with ``context`` when given,
    ``server_hostname`` as the name it checks the certificate against and sends as SNI."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    request = _request(path, host)
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(
            parts.hostname,
            port,
            ssl=context,
            server_hostname=server_hostname if context is not None else None,
            limit=MAX_ANSWER,
        )
        try:
            writer.write(request)
            raw = b""
            while len(raw) < MAX_ANSWER:
                try:
                    chunk = await reader.read(MAX_ANSWER - len(raw))
                except ssl.SSLError:
                    if not raw:
                        raise
                    break  # the connection ended without TLS's closing message, after an answer
                if not chunk:
                    break
                raw += chunk
                if _complete(raw):
                    break  # a server that keeps the connection open anyway has said all it will
        finally:
            # No TLS close_notify exchange: the answer is in, and a peer that never confirms it would
            # hold the connection open until the timeout.
            writer.transport.abort()
    return parse(raw)
