"""Credentials shown once, then only resettable, for real: WordPress (built from Debian packages) on an
sshd test server, deployed by the embedded stack, logged into through the server's proxy.

The deploy creates the admin account with the generated password; the reset job gives it a new one
through the template's reset_credentials hook. The old password stops working, the new one works, and
neither ever appears in the job's events.
"""

from __future__ import annotations

import ssl
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import docker
import httpx
import pytest

from tests.support.api_client import ApiClient, new_tenant
from tests.support.proxy import remove_proxies, root_ca
from tests.support.sshd import TestServer
from tests.support.stack import embedded_stack

pytestmark = pytest.mark.e2e


def _logs_in(url: str, *, address: str, ca_pem: str, password: str) -> bool:
    """WordPress's own login form, by hostname through the proxy: a redirect with a session cookie."""
    hostname = urlsplit(url).hostname or ""
    context = ssl.create_default_context(cadata=ca_pem)
    with httpx.Client(verify=context, timeout=30) as http:
        response = http.post(
            f"https://{address}/wp-login.php",
            headers={"Host": hostname, "Cookie": "wordpress_test_cookie=WP%20Cookie%20check"},
            data={"log": "admin", "pwd": password, "wp-submit": "Log In", "testcookie": "1"},
            extensions={"sni_hostname": hostname},
        )
    logged_in = any(c.startswith("wordpress_logged_in_") for c in response.cookies)
    return response.status_code == 302 and logged_in


def test_reset_gives_the_wordpress_admin_a_new_password_shown_once(
    tmp_path: Path,
    ssh_servers: list[TestServer],
    wordpress_images: dict[str, str],
    registry: str,
    docker_client: docker.DockerClient,
) -> None:
    server = ssh_servers[0]
    with ExitStack() as cleanup:
        stack = cleanup.enter_context(embedded_stack(tmp_path, ssh_key=server.client_key, registry=registry))
        operator = cleanup.enter_context(ApiClient(stack.base_url, stack.operator_token))
        added = operator.call(
            "POST",
            "/api/v1/servers",
            expect=201,
            json={
                "name": server.name,
                "address": server.address,
                "root_dir": str(server.root_dir),
                "capacity": {"cpu": 2, "memory_mb": 2048, "disk_gb": 20},
            },
        )
        cleanup.callback(remove_proxies, docker_client, [added["id"]])
        tenant_id, verein = new_tenant(operator, stack.base_url, "verein-reset")
        verein = cleanup.enter_context(verein)
        requested = verein.call(
            "POST",
            "/api/v1/instances",
            expect=201,
            json={"template": "wordpress", "name": "site", "subdomain": "site", "parameters": {}},
        )
        instance_id = requested["id"]
        accepted = operator.call(
            "POST", f"/api/v1/instances/{instance_id}/approve", expect=202, json={"server": added["id"]}
        )
        job, _ = verein.wait_for_job(accepted["job"]["id"], timeout=400)
        assert job["status"] == "succeeded", job["error"]
        cleanup.callback(_remove, verein, instance_id)
        url = verein.call("GET", f"/api/v1/instances/{instance_id}", expect=200)["url"]
        ca = root_ca(docker_client, added["id"])

        first = verein.call("GET", f"/api/v1/instances/{instance_id}/credentials", expect=200)
        old_password = first["credentials"]["admin_password"]
        assert set(first["credentials"]) == {"admin_password"}
        assert verein.http.get(f"/api/v1/instances/{instance_id}/credentials").status_code == 410
        assert _logs_in(url, address=server.address, ca_pem=ca, password=old_password)
        assert not _logs_in(url, address=server.address, ca_pem=ca, password="not-" + old_password)

        reset = verein.call("POST", f"/api/v1/instances/{instance_id}/credentials/reset", expect=202)
        assert reset["job"]["kind"] == "reset_credentials"
        job, _ = verein.wait_for_job(reset["job"]["id"], timeout=400)
        assert job["status"] == "succeeded", job["error"]
        assert verein.call("GET", f"/api/v1/instances/{instance_id}", expect=200)["state"] == "running"

        again = verein.call("GET", f"/api/v1/instances/{instance_id}/credentials", expect=200)
        new_password = again["credentials"]["admin_password"]
        assert new_password != old_password
        assert verein.http.get(f"/api/v1/instances/{instance_id}/credentials").status_code == 410
        assert not _logs_in(url, address=server.address, ca_pem=ca, password=old_password)
        assert _logs_in(url, address=server.address, ca_pem=ca, password=new_password)

        # Neither password reached the job's events; the reset is in the tenant's audit log.
        for job_id in (accepted["job"]["id"], reset["job"]["id"]):
            events = verein.call("GET", f"/api/v1/jobs/{job_id}/events", expect=200)["items"]
            text = " ".join(e["line"] + e["stdout"] for e in events)
            assert old_password not in text
            assert new_password not in text
        audit = verein.call("GET", "/api/v1/audit", expect=200)["items"]
        assert ("reset_credentials", instance_id, tenant_id) in {
            (e["action"], e["target_id"], e["tenant_id"]) for e in audit
        }


def _remove(client: ApiClient, instance_id: str) -> None:
    removal = client.call("DELETE", f"/api/v1/instances/{instance_id}", expect=202)
    job, _ = client.wait_for_job(removal["job"]["id"])
    assert job["status"] == "succeeded", job["error"]
