"""Asks a running instance through its server's proxy whether it is well, as a visitor would.

Connects to the server's public address with the instance's hostname as TLS server name and Host
header, so no DNS is needed. ``verify`` checks the certificate: callers pass what the server's TLS
mode trusts (see ``provisioner.health.tls``).
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from provisioner.catalog.model import HealthCheck
from provisioner.health.probe import Health


@dataclass(frozen=True)
class HealthRequest:
    url: str
    headers: dict[str, str]
    extensions: dict[str, Any]


def health_request(check: HealthCheck, *, url: str, address: str) -> HealthRequest:
    parts = urlsplit(url)
    hostname = parts.hostname or ""
    return HealthRequest(
        url=f"{parts.scheme}://{address}{check.path}",
        headers={"Host": hostname},
        extensions={"sni_hostname": hostname},
    )


def check_health(
    check: HealthCheck,
    *,
    url: str,
    address: str,
    timeout: float = 5.0,
    verify: ssl.SSLContext | bool = False,
) -> Health:
    import httpx  # noqa: PLC0415 - loaded when used, so an idle worker stays small

    request = health_request(check, url=url, address=address)
    try:
        with httpx.Client(verify=verify, timeout=timeout) as client:
            response = client.get(request.url, headers=request.headers, extensions=request.extensions)
    except httpx.HTTPError:
        return Health.UNHEALTHY
    healthy = answers_as_expected(check, response.status_code, response.content)
    return Health.HEALTHY if healthy else Health.UNHEALTHY


def answers_as_expected(check: HealthCheck, status: int, content: bytes) -> bool:
    """Whatever client asked: the status and the body must be what the template's ``health`` says."""
    if status != check.expect_status:
        return False
    if check.expect_text is not None and content.decode(errors="replace").strip() != check.expect_text:
        return False
    if check.expect_json:
        try:
            body: Any = json.loads(content)
        except ValueError:
            return False
        if not isinstance(body, dict) or any(body.get(k) != v for k, v in check.expect_json.items()):
            return False
    return True
