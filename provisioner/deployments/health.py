"""Asks a running instance through its server's proxy whether it is well, as a visitor would.

Connects to the server's public address with the instance's hostname as TLS server name and Host
header, so no DNS is needed. The certificate is not verified here: the deploy already checked the
chain from inside the proxy, and health is about the service answering, not about identity.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from provisioner.catalog.model import HealthCheck
from provisioner.health.probe import Health


def check_health(check: HealthCheck, *, url: str, address: str, timeout: float = 5.0) -> Health:
    parts = urlsplit(url)
    hostname = parts.hostname or ""
    target = f"{parts.scheme}://{address}{check.path}"
    try:
        # The certificate is not verified on purpose: see the module docstring.
        with httpx.Client(verify=False, timeout=timeout) as client:  # noqa: S501  # nosec B501
            response = client.get(target, headers={"Host": hostname}, extensions={"sni_hostname": hostname})
    except httpx.HTTPError:
        return Health.UNHEALTHY
    return Health.HEALTHY if answers_as_expected(check, response) else Health.UNHEALTHY


def answers_as_expected(check: HealthCheck, response: httpx.Response) -> bool:
    if response.status_code != check.expect_status:
        return False
    if check.expect_text is not None and response.text.strip() != check.expect_text:
        return False
    if check.expect_json:
        try:
            body: Any = response.json()
        except ValueError:
            return False
        if not isinstance(body, dict) or any(body.get(k) != v for k, v in check.expect_json.items()):
            return False
    return True
