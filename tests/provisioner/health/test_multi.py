"""Health requests through libcurl's multi interface against servers on loopback that answer well,
badly, too much or not at all."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from provisioner.health.multi import MAX_ANSWER, Answer, Ask, Failure, Trust, fetch_all
from tests.support.health_stub import health_stub, make_ca, server_context

Reply = Callable[[socket.socket], None]


@contextmanager
def _raw_server(reply: Reply) -> Iterator[tuple[str, list[bytes]]]:
    """A server on loopback that reads each request's head, keeps it, and lets ``reply`` answer."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []

    def serve(connection: socket.socket) -> None:
        with connection:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = connection.recv(4096)
                if not chunk:
                    return
                head += chunk
            seen.append(head)
            with contextlib.suppress(OSError):  # the client stopped reading, as it should
                reply(connection)

    def accept() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}", seen
    finally:
        listener.close()


def _sending(raw: bytes, *, then: Callable[[socket.socket], None] | None = None) -> Reply:
    def reply(connection: socket.socket) -> None:
        connection.sendall(raw)
        if then is not None:
            then(connection)

    return reply


def _ask_one(
    address: str, path: str = "/health", *, timeout: float = 5, trust: Trust | None = None
) -> object:
    scheme = "http" if trust is None else "https"
    ask = Ask("i1", f"{scheme}://{address}{path}", "site.example.test", trust or Trust(verify=False))
    return fetch_all([ask], concurrency=4, timeout=timeout)["i1"]


def test_the_request_goes_to_the_address_and_names_the_instance() -> None:
    with _raw_server(_sending(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA")) as (address, seen):
        assert _ask_one(address, "/healthz?full=1") == Answer(200, b"ok")
    request = seen[0]
    assert request.startswith(b"GET /healthz?full=1 HTTP/1.0\r\n")
    assert b"\r\nHost: site.example.test\r\n" in request
    assert b"Connection: close" in request
    assert b"Accept-Encoding" not in request


@pytest.mark.parametrize(
    "raw", [b"", b"SSH-2.0-OpenSSH_9.2\r\n", b"HTTP/1.1 2x0 OK\r\n\r\n", b"HTTP/1.1 200 OK\r\nno end"]
)
def test_what_is_not_an_http_answer_is_a_failure(raw: bytes) -> None:
    with _raw_server(_sending(raw)) as (address, _):
        assert _ask_one(address) == Failure("not-http")


def test_an_endless_answer_is_kept_no_further_than_the_limit() -> None:
    def endless(connection: socket.socket) -> None:
        for _ in range(4 * MAX_ANSWER // 65536):
            connection.sendall(b"x" * 65536)

    with _raw_server(_sending(b"HTTP/1.1 200 OK\r\n\r\n", then=endless)) as (address, _):
        answer = _ask_one(address)
    assert isinstance(answer, Answer)
    assert answer.status == 200
    assert len(answer.content) == MAX_ANSWER


def test_an_answer_of_known_length_ends_there_though_the_server_keeps_the_connection_open() -> None:
    def keeps_open(connection: socket.socket) -> None:
        connection.recv(1)  # until the client goes: it never closes on its own

    reply = _sending(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", then=keeps_open)
    with _raw_server(reply) as (address, _):
        assert _ask_one(address, timeout=3) == Answer(200, b"ok")


def test_a_server_that_says_nothing_is_given_up_at_the_timeout() -> None:
    def silent(connection: socket.socket) -> None:
        connection.recv(1)

    with _raw_server(silent) as (address, _):
        assert _ask_one(address, timeout=0.5) == Failure("timeout")


def test_a_closed_port_and_a_header_in_a_name_are_failures_of_their_own() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        address = f"127.0.0.1:{taken.getsockname()[1]}"
    assert _ask_one(address) == Failure("ConnectionRefusedError")
    smuggled = Ask("i2", f"http://{address}/", "site.example.test\r\nX-Evil: 1")
    assert fetch_all([smuggled], concurrency=1, timeout=1) == {"i2": Failure("ValueError")}


def test_the_certificate_must_carry_the_instances_name_and_come_from_the_ca_trusted(tmp_path: Path) -> None:
    ca, stranger = make_ca("proxy CA"), make_ca("someone else")
    with health_stub(server_context(ca, ["site.example.test"], tmp_path)) as stub:
        asks = [
            Ask("right", f"https://{stub.address}/", "site.example.test", Trust(ca_pem=ca.pem)),
            Ask("other name", f"https://{stub.address}/", "other.example.test", Trust(ca_pem=ca.pem)),
            Ask("other CA", f"https://{stub.address}/", "site.example.test", Trust(ca_pem=stranger.pem)),
            Ask("public CAs", f"https://{stub.address}/", "site.example.test", Trust()),
            Ask("unchecked", f"https://{stub.address}/", "site.example.test", Trust(verify=False)),
        ]
        found = fetch_all(asks, concurrency=2, timeout=5)
        assert stub.hosts.count("site.example.test") == 2  # the refused ones sent no request
    assert found == {
        "right": Answer(200, b"ok"),
        "other name": Failure("certificate"),
        "other CA": Failure("certificate"),
        "public CAs": Failure("certificate"),
        "unchecked": Answer(200, b"ok"),
    }


def test_more_requests_than_the_concurrency_each_get_their_own_connection() -> None:
    with health_stub() as stub:
        asks = [Ask(f"i{n}", f"http://{stub.address}/h", f"site{n}.example.test") for n in range(25)]
        found = fetch_all(asks, concurrency=3, timeout=5)
        assert sorted(stub.hosts) == sorted(f"site{n}.example.test" for n in range(25))
    assert found == {f"i{n}": Answer(200, b"ok") for n in range(25)}


def test_no_alpn_protocol_is_offered(tmp_path: Path) -> None:
    """Go's TLS (Caddy's) refuses a client whose only ALPN protocol it does not speak, as "http/1.0"."""
    ca = make_ca("proxy CA")
    tls = server_context(ca, ["site.example.test"], tmp_path)
    tls.set_alpn_protocols(["http/1.0", "http/1.1", "h2"])
    offered: list[str | None] = []
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        connection, _ = listener.accept()
        with tls.wrap_socket(connection, server_side=True) as secured:
            offered.append(secured.selected_alpn_protocol())
            secured.recv(4096)
            secured.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    threading.Thread(target=serve, daemon=True).start()
    with listener:
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        assert _ask_one(address, trust=Trust(ca_pem=ca.pem)) == Answer(200, b"ok")
    assert offered == [None]
