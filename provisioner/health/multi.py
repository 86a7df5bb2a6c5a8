"""Many health requests at once through libcurl's multi interface (pycurl): libcurl does the
connections, TLS and parsing in C, Python only hands out the requests and collects the answers.

Each request goes over a connection of its own (no reuse, no TLS session resumed), so every
instance's own certificate and server name are checked anew, as a visitor's browser would: the
connection is made to the server's address, while the instance's hostname is the TLS server name,
the name the certificate must carry and the Host header. One GET over HTTP/1.0 with ``Connection:
close``, no redirect followed, no proxy from the environment, nothing but HTTP and HTTPS. What the
server sends is untrusted: at most ``MAX_ANSWER`` bytes of body are kept, and the whole request has
``timeout`` seconds from when it starts. The asyncio streams (and before them aiohttp) this replaces
spent most of a sweep's time on Python's work per connection; see benchmarks/results.md.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pycurl

MAX_ANSWER = 256 * 1024  # the body; health answers are a few bytes


@dataclass(frozen=True)
class Trust:
    """How a request checks the certificate: ``verify`` off asks over TLS without checking anything
    (a server whose TLS mode trusts nothing); ``ca_pem`` set trusts that CA alone; else the system's CAs."""

    verify: bool = True
    ca_pem: str | None = None


@dataclass(frozen=True)
class Ask:
    key: str
    url: str  # scheme://address[:port]/path: where the connection goes
    hostname: str  # the instance's name: Host header, TLS server name, the name its certificate carries
    trust: Trust = field(default_factory=Trust)


@dataclass(frozen=True)
class Answer:
    status: int
    content: bytes


@dataclass(frozen=True)
class Failure:
    """Why no answer came: ``kind`` is ``timeout``, ``certificate``, ``not-http`` or an error's name."""

    kind: str


# libcurl's error codes (curl/curl.h) by what they say about the instance.
_NOT_HTTP = {1, 8, 52}  # unsupported protocol, weird server reply, empty reply
_NAMES = {
    6: "gaierror",
    7: "ConnectionRefusedError",
    35: "SSLError",
    55: "BrokenPipeError",
    56: "ConnectionResetError",
}


class _Body:
    """Collects a body up to ``MAX_ANSWER`` and then stops the transfer (libcurl calls it an error);
    notes whether the headers ended (libcurl takes an answer cut off inside them for one without body)."""

    __slots__ = ("chunks", "full", "headed", "size")

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0
        self.full = False
        self.headed = False

    def header(self, line: bytes) -> None:
        if line.startswith(b"HTTP/"):
            self.headed = False  # a new status line (after a 1xx): its own headers must end too
        elif line in (b"\r\n", b"\n"):
            self.headed = True

    def write(self, data: bytes) -> int:
        room = MAX_ANSWER - self.size
        if len(data) > room:
            self.chunks.append(data[:room])
            self.size, self.full = MAX_ANSWER, True
            return 0  # tells libcurl to stop
        self.chunks.append(data)
        self.size += len(data)
        return len(data)


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _configure(handle: pycurl.Curl, ask: Ask, body: _Body, timeout: float) -> None:
    if not ask.hostname or any(c in f"{ask.url}{ask.hostname}" for c in "\r\n\x00 "):
        raise ValueError("a health request's address, path and hostname are one token each")
    parts = urlsplit(ask.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) address: {ask.url}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = f"{parts.path or '/'}{'?' + parts.query if parts.query else ''}"
    name = _bracketed(ask.hostname)
    handle.setopt(pycurl.URL, f"{parts.scheme}://{name}:{port}{path}")
    # The connection goes to the server's address whatever the name resolves to (no DNS asked).
    handle.setopt(pycurl.CONNECT_TO, [f"{name}:{port}:{_bracketed(parts.hostname)}:{port}"])
    handle.setopt(pycurl.HTTPHEADER, [f"Host: {ask.hostname}", "Connection: close", "Accept: */*"])
    handle.setopt(pycurl.USERAGENT, "provisioner-health")
    handle.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_0)
    handle.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
    handle.setopt(pycurl.NOPROXY, "*")
    handle.setopt(pycurl.FRESH_CONNECT, 1)
    handle.setopt(pycurl.FORBID_REUSE, 1)
    handle.setopt(pycurl.SSL_SESSIONID_CACHE, 0)
    handle.setopt(pycurl.NOSIGNAL, 1)
    handle.setopt(pycurl.TIMEOUT_MS, max(1, int(timeout * 1000)))
    handle.setopt(pycurl.WRITEFUNCTION, body.write)
    handle.setopt(pycurl.HEADERFUNCTION, body.header)
    if parts.scheme == "https":
        _trust(handle, ask.trust)


def _trust(handle: pycurl.Curl, trust: Trust) -> None:
    handle.setopt(pycurl.SSLVERSION, pycurl.SSLVERSION_TLSv1_2)  # Python's default context's floor
    # No ALPN: libcurl would offer "http/1.0" alone, which Go's TLS (Caddy, the servers' proxy) refuses
    # as a protocol it does not speak; without ALPN every server speaks HTTP/1.x.
    handle.setopt(pycurl.SSL_ENABLE_ALPN, 0)
    if not trust.verify:
        handle.setopt(pycurl.SSL_VERIFYPEER, 0)
        handle.setopt(pycurl.SSL_VERIFYHOST, 0)
        return
    handle.setopt(pycurl.SSL_VERIFYPEER, 1)
    handle.setopt(pycurl.SSL_VERIFYHOST, 2)
    if trust.ca_pem is not None:
        handle.setopt(pycurl.CAINFO_BLOB, trust.ca_pem.encode())  # this CA and no other
        handle.unsetopt(pycurl.CAPATH)
        return
    # The CAs Python's ssl module trusts (SSL_CERT_FILE and SSL_CERT_DIR included), not the paths
    # libcurl was built with elsewhere.
    paths = ssl.get_default_verify_paths()
    if paths.cafile:
        handle.setopt(pycurl.CAINFO, paths.cafile)
    else:
        handle.unsetopt(pycurl.CAINFO)
    if paths.capath:
        handle.setopt(pycurl.CAPATH, paths.capath)
    else:
        handle.unsetopt(pycurl.CAPATH)


def _failure(code: int) -> Failure:
    if code == pycurl.E_OPERATION_TIMEDOUT:
        return Failure("timeout")
    if code == pycurl.E_PEER_FAILED_VERIFICATION:
        return Failure("certificate")
    if code in _NOT_HTTP:
        return Failure("not-http")
    return Failure(_NAMES.get(code, "OSError"))


def fetch_all(asks: Sequence[Ask], *, concurrency: int, timeout: float) -> dict[str, Answer | Failure]:
    """GET every ``ask``, at most ``concurrency`` at once, each within ``timeout`` seconds of its start."""
    results: dict[str, Answer | Failure] = {}
    multi = pycurl.CurlMulti()
    idle = [pycurl.Curl() for _ in range(max(1, min(concurrency, len(asks))))]
    running: dict[pycurl.Curl, tuple[str, _Body]] = {}
    waiting = iter(asks)

    def start() -> None:
        while idle:
            ask = next(waiting, None)
            if ask is None:
                return
            handle, body = idle.pop(), _Body()
            handle.reset()
            try:
                _configure(handle, ask, body, timeout)
            except ValueError:
                results[ask.key] = Failure("ValueError")
                idle.append(handle)
                continue
            running[handle] = (ask.key, body)
            multi.add_handle(handle)

    def finish(handle: pycurl.Curl, code: int) -> None:
        key, body = running.pop(handle)
        status = handle.getinfo(pycurl.RESPONSE_CODE)
        if (code == 0 or (code == pycurl.E_WRITE_ERROR and body.full)) and status and body.headed:
            results[key] = Answer(status, b"".join(body.chunks))
        elif code == 0:
            results[key] = Failure("not-http")
        else:
            results[key] = _failure(code)
        multi.remove_handle(handle)
        idle.append(handle)

    try:
        start()
        while running:
            while multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
                pass
            while True:
                queued, done, failed = multi.info_read()
                for handle in done:
                    finish(handle, 0)
                for handle, code, _message in failed:
                    finish(handle, code)
                if not queued:
                    break
            start()
            if running:
                multi.select(0.5)
    finally:
        for handle in running:
            multi.remove_handle(handle)
        for handle in [*running, *idle]:
            handle.close()
        multi.close()
    return results
