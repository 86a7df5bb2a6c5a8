"""The reverse proxy of a server: one Caddy container, routing each instance's hostname to it.

Everything here is derived from ids and validated names only: hostnames are DNS labels checked at
request time, upstreams are container names made from the instance id.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from provisioner.catalog.images import resolve_image
from provisioner.config import Settings
from provisioner.models import Server

LABEL_PROXY = "org.provisioner.proxy"
# Where Caddy's own CA keeps its root certificate (internal TLS), inside the proxy container.
ROOT_CA_PATH = "/data/caddy/pki/authorities/local/root.crt"


class TlsMode(StrEnum):
    ACME = "acme"  # certificates from Let's Encrypt (production)
    INTERNAL = "internal"  # Caddy's local CA (tests, labs without public DNS)
    OFF = "off"  # plain HTTP


def tls_mode(settings: Settings, server: Server) -> TlsMode:
    return TlsMode(server.tls_mode or settings.tls_mode)


def base_domain(settings: Settings, server: Server | None) -> str:
    return (server.base_domain if server else None) or settings.base_domain


def proxy_name(server: Server) -> str:
    return f"prv-proxy-{server.id}"


def caddyfile(mode: TlsMode, *, acme_email: str | None) -> str:
    options = ["\tadmin localhost:2019"]
    if mode is TlsMode.INTERNAL:
        options += ["\tlocal_certs", "\tskip_install_trust"]
    elif mode is TlsMode.ACME and acme_email:
        options.append(f"\temail {acme_email}")
    elif mode is TlsMode.OFF:
        options.append("\tauto_https off")
    body = "\n".join(options)
    header = "# Written by provisioner; one file per instance in sites/."
    return f"{header}\n{{\n{body}\n}}\n\nimport sites/*.caddy\n"


# The proxy is the first hop: what a client sends about its own address or scheme is never passed on.
# Caddy (2.5 and later) already replaces X-Forwarded-For, -Proto and -Host of clients it does not trust
# (it trusts none here); X-Real-IP and Forwarded it would pass through, and services read them.
FORWARDING = (
    "\t\theader_up X-Real-IP {remote_host}\n",
    "\t\theader_up -Forwarded\n",
)


def site_block(mode: TlsMode, *, hostname: str, upstream: str, instance_id: str) -> str:
    address = f"http://{hostname}" if mode is TlsMode.OFF else hostname
    proxy = f"\treverse_proxy {upstream} {{\n{''.join(FORWARDING)}\t}}\n"
    return f"# instance {instance_id}\n{address} {{\n{proxy}}}\n"


def instance_url(mode: TlsMode, hostname: str) -> str:
    return f"{'http' if mode is TlsMode.OFF else 'https'}://{hostname}/"


def health_argv(mode: TlsMode, *, hostname: str, path: str) -> list[str]:
    """curl inside the proxy container, through its own listener: the same route and certificate
    a visitor gets, without needing DNS or any tool on the server."""
    port = 80 if mode is TlsMode.OFF else 443
    argv = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10"]
    argv += ["--resolve", f"{hostname}:{port}:127.0.0.1"]
    if mode is TlsMode.INTERNAL:
        argv += ["--cacert", ROOT_CA_PATH]
    return [*argv, instance_url(mode, hostname).rstrip("/") + path]


def proxy_variables(settings: Settings, server: Server) -> dict[str, Any]:
    name = proxy_name(server)
    return {
        "name": name,
        "network": name,
        "data_volume": f"{name}-data",
        "dir": f"{server.root_dir}/proxy",
        "image": resolve_image(settings.proxy_image, mirror=settings.image_registry),
        "published_ports": [f"{server.public_address}:80:80", f"{server.public_address}:443:443"],
        "labels": {LABEL_PROXY: server.id, f"{LABEL_PROXY}.address": server.public_address},
        "address_label": f"{LABEL_PROXY}.address={server.public_address}",
    }
