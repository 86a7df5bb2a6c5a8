"""Real HTTP(S) servers on loopback standing in for instances' health endpoints, switchable sick or well,
and a throwaway CA for the TLS ones (as the proxy's internal CA would be)."""

from __future__ import annotations

import datetime
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from provisioner.config import Settings


def sweep_settings(db_url: str, folder: Path, *, smtp: tuple[str, int], after_minutes: float = 0) -> Settings:
    """The lab's settings for a sweep against stubs: alerts by mail to ``smtp`` at once (or after
    ``after_minutes``), short timeouts."""
    return Settings(
        data_dir=folder,
        database_url=db_url,
        smtp_host=smtp[0],
        smtp_port=smtp[1],
        alert_operator_emails="ops@lab.example",
        alert_digest_seconds=0,
        alert_unhealthy_after_minutes=after_minutes,
        health_timeout_seconds=2,
        # The servers' SSH address is unroutable: fetching a proxy's CA fails fast.
        ssh_connect_timeout_seconds=1,
    )


class _Handler(BaseHTTPRequestHandler):
    server: _StubServer

    def do_GET(self) -> None:
        host = self.headers.get("Host", "")
        well = self.server.healthy and host not in self.server.sick_hosts
        self.server.hosts.append(host)
        self.server.asked.append((host, self.path))
        body = b"ok" if well else b"sick"
        self.send_response(200 if well else 503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _StubServer(ThreadingHTTPServer):
    daemon_threads = True
    healthy = True
    hosts: list[str]
    # (Host, path) of each request; hosts answered as sick while the rest is well.
    asked: list[tuple[str, str]]
    sick_hosts: set[str]


@dataclass
class Stub:
    server: _StubServer

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host!s}:{port}"

    def set_healthy(self, healthy: bool) -> None:
        self.server.healthy = healthy

    def set_host_healthy(self, host: str, healthy: bool) -> None:
        """One address (one space in a shared instance, say) sick or well while the others answer."""
        (self.server.sick_hosts.discard if healthy else self.server.sick_hosts.add)(host)

    @property
    def asked(self) -> list[tuple[str, str]]:
        return self.server.asked

    @property
    def hosts(self) -> list[str]:
        return self.server.hosts


@contextmanager
def health_stub(tls: ssl.SSLContext | None = None) -> Iterator[Stub]:
    server = _StubServer(("127.0.0.1", 0), _Handler)
    server.hosts, server.asked, server.sick_hosts = [], [], set()
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Stub(server)
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class Ca:
    pem: str
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_ca(common: str = "Test proxy CA") -> Ca:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(_name(common))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    return Ca(cert.public_bytes(serialization.Encoding.PEM).decode(), key, cert)


def server_context(ca: Ca, hostnames: list[str], folder: Path) -> ssl.SSLContext:
    """A server-side TLS context with a certificate for ``hostnames`` signed by ``ca``."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hostnames[0]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hostnames]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    chain = folder / "chain.pem"
    chain.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    private = folder / "key.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain, private)
    return context
