"""The health check a deploy ends with verifies the certificate as the sweep does (real TLS stubs)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.health.probe import Health
from provisioner.health.tls import check_on_server
from provisioner.models import Server, ServerCa
from provisioner.monitoring.metrics import store_ca
from tests.support import factories
from tests.support.health_stub import health_stub, make_ca, server_context

CHECK = factories.CATALOG.get("homepage").health
HOST = "site-verein-a.example.test"


def _settings(db_url: str, tmp_path: Path) -> Settings:
    # The servers' SSH address is unroutable: fetching a proxy's CA fails fast.
    return Settings(data_dir=tmp_path, database_url=db_url, ssh_connect_timeout_seconds=1)


def _server(session: Session, address: str, tls: str) -> Server:
    server = factories.server(session)
    server.public_address, server.tls_mode = address, tls
    session.flush()
    return server


def _check(session: Session, settings: Settings, server: Server, scheme: str = "https") -> Health:
    return check_on_server(session, settings, CHECK, url=f"{scheme}://{HOST}/", server=server, timeout=2)


def test_internal_tls_is_verified_against_the_servers_own_ca(db_url: str, tmp_path: Path) -> None:
    settings = _settings(db_url, tmp_path)
    proxy_ca, stranger = make_ca("proxy CA"), make_ca("someone else")
    with (
        health_stub(server_context(proxy_ca, [HOST], tmp_path)) as stub,
        transaction(settings.resolved_database_url) as session,
    ):
        server = _server(session, stub.address, "internal")
        # No CA kept and none to be fetched (the server cannot be reached): nothing is trusted blindly.
        assert _check(session, settings, server) is Health.UNHEALTHY
        assert session.get(ServerCa, server.id) is None
        store_ca(session, server.id, stranger.pem)
        assert _check(session, settings, server) is Health.UNHEALTHY
        store_ca(session, server.id, proxy_ca.pem)
        assert _check(session, settings, server) is Health.HEALTHY
        assert stub.hosts[-1] == HOST


def test_acme_trusts_the_public_cas_only_and_off_asks_plain_http(db_url: str, tmp_path: Path) -> None:
    settings = _settings(db_url, tmp_path)
    proxy_ca = make_ca("proxy CA")
    with transaction(settings.resolved_database_url) as session:
        with health_stub(server_context(proxy_ca, [HOST], tmp_path)) as stub:
            server = _server(session, stub.address, "acme")
            store_ca(session, server.id, proxy_ca.pem)  # kept for internal TLS only: not trusted here
            assert _check(session, settings, server) is Health.UNHEALTHY
        with health_stub() as plain:
            server.public_address, server.tls_mode = plain.address, "off"
            assert _check(session, settings, server, scheme="http") is Health.HEALTHY
