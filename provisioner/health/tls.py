"""How a health check trusts an instance's certificate, by its server's TLS mode.

``internal``: the server proxy's own root CA, kept per server in ``server_cas`` (the metrics collection
refreshes it; a check that finds none fetches it over SSH). Without it nothing verifies: an instance
is not trusted blindly. ``acme``: the public CAs. ``off``: plain HTTP, nothing to verify.
"""

from __future__ import annotations

import logging
import ssl

from sqlalchemy.orm import Session

from provisioner.catalog.model import HealthCheck
from provisioner.config import Settings
from provisioner.health.check import check_health
from provisioner.health.probe import Health
from provisioner.models import Server, ServerCa
from provisioner.monitoring.metrics import ca_pem, store_ca
from provisioner.monitoring.remote import RemoteError, ca_script, run_script
from provisioner.proxy.caddy import TlsMode, tls_mode

log = logging.getLogger(__name__)


def trusting(pem: str | None) -> ssl.SSLContext:
    # Without the CA the default (public) roots cannot vouch for an internal certificate: it fails.
    return ssl.create_default_context(cadata=pem) if pem else ssl.create_default_context()


def fetch_ca(session: Session, settings: Settings, server: Server) -> str | None:
    """Read the proxy's root CA over SSH and keep it; None when the server or its proxy cannot say."""
    try:
        pem = ca_pem(run_script(settings, server, ca_script(server)))
    except RemoteError as exc:
        log.warning("the proxy CA of %s could not be read: %s", server.name, exc)
        return None
    if pem:
        store_ca(session, server.id, pem)
    return pem


def check_on_server(
    session: Session,
    settings: Settings,
    check: HealthCheck,
    *,
    url: str,
    server: Server,
    timeout: float = 5.0,
) -> Health:
    """The health check a deploy ends with, verifying the certificate as the sweep does."""
    mode = tls_mode(settings, server)
    if mode is not TlsMode.INTERNAL:
        verify: ssl.SSLContext | bool = mode is TlsMode.ACME and ssl.create_default_context()
        return check_health(check, url=url, address=server.public_address, timeout=timeout, verify=verify)
    stored = session.get(ServerCa, server.id)
    known = stored.pem if stored else None
    pem = known or fetch_ca(session, settings, server)
    health = check_health(
        check, url=url, address=server.public_address, timeout=timeout, verify=trusting(pem)
    )
    if health is Health.HEALTHY or known is None:
        return health
    # The proxy may have been made anew (a new CA) since the CA was kept: ask once more with the current one.
    fresh = fetch_ca(session, settings, server)
    if fresh is None or fresh == known:
        return health
    return check_health(
        check, url=url, address=server.public_address, timeout=timeout, verify=trusting(fresh)
    )
