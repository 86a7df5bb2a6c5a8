"""A service with a database, built from Debian packages, deployed for real through the whole chain:
request → approve → running → healthy by its hostname through the server's proxy → credentials shown
once, then reset → remove.

The deploy creates the admin account with the generated password; the reset job gives it a new one
through the template's reset_credentials hook. The old password stops working, the new one works, and
neither ever appears in the job's events.

Real parts: the provisioner in embedded mode, an sshd test server, Docker Engine, WordPress and
MariaDB images built from Debian packages and pulled from the local registry, and the server's Caddy
proxy with its own CA, whose chain the test checks.
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
from tests.support.lab import (
    INSTANCE_LABEL,
    add_server,
    approve,
    remove_through_api,
    request_instance,
    succeeded,
)
from tests.support.proxy import get_by_hostname, proxy_container, remove_proxies, root_ca
from tests.support.sshd import TestServer
from tests.support.stack import embedded_stack

pytestmark = pytest.mark.e2e


# A deploy, a credentials reset and a removal of WordPress: more than the default limit on a busy machine.
@pytest.mark.timeout(1800)
def test_wordpress_request_approve_healthy_by_hostname_credentials_reset_then_remove(
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
        server_id = add_server(operator, server)
        cleanup.callback(remove_proxies, docker_client, [server_id])
        tenant_id, verein_a = new_tenant(operator, stack.base_url, "verein-a")
        cleanup.enter_context(verein_a)
        verein_b = cleanup.enter_context(new_tenant(operator, stack.base_url, "verein-b")[1])

        refused = verein_a.http.post(
            "/api/v1/instances",
            json={"template": "wordpress", "name": "blog", "parameters": {"language": "xx"}},
        )
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "body.parameters.language"

        requested = request_instance(verein_a, template="wordpress", name="blog", subdomain="blog")
        assert requested["hostname"] == "blog.localhost"
        taken = verein_b.http.post(
            "/api/v1/instances",
            json={"template": "wordpress", "name": "blog", "subdomain": "blog", "parameters": {}},
        )
        assert taken.status_code == 409
        assert taken.json()["errors"][0]["field"] == "body.subdomain"

        instance_id = requested["id"]
        deploy = succeeded(verein_a, approve(operator, instance_id, server_id))
        running = verein_a.call("GET", f"/api/v1/instances/{instance_id}", expect=200)
        assert (running["state"], running["health"]) == ("running", "healthy")
        assert running["url"] == "https://blog.localhost/"

        # By hostname through the proxy, with a certificate for that name from the proxy's CA.
        ca = root_ca(docker_client, server_id)
        page = get_by_hostname(
            running["url"], address=server.address, ca_pem=ca, path="/wp-admin/install.php"
        )
        assert page.status_code == 200
        assert "WordPress" in page.text
        assert "Error establishing a database connection" not in page.text
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            get_by_hostname(running["url"], address=server.address, ca_pem=_other_ca(), path="/")

        # Isolation on the server: its own network (shared with the proxy only), volumes, no host ports.
        label = {"label": f"{INSTANCE_LABEL}={instance_id}"}
        containers = {c.name: c for c in docker_client.containers.list(filters=label)}
        assert set(containers) == {f"prv-{instance_id}-db", f"prv-{instance_id}-web"}
        assert all(not c.attrs["HostConfig"]["PortBindings"] for c in containers.values())
        assert containers[f"prv-{instance_id}-db"].attrs["HostConfig"]["Memory"] == 256 * 1024 * 1024
        network = docker_client.networks.get(f"prv-{instance_id}")
        attached = {c.name for c in network.containers}
        assert attached == {*containers, proxy_container(docker_client, server_id).name}
        volumes = {v.name for v in docker_client.volumes.list(filters=label)}
        assert volumes == {f"prv-{instance_id}-db", f"prv-{instance_id}-content"}
        # The database keeps its data on the instance's volume.
        listing = containers[f"prv-{instance_id}-db"].exec_run(["ls", "/var/lib/mysql/wordpress"])
        assert listing.exit_code == 0

        _shown_once_then_reset(
            verein_a, tenant_id, instance_id, deploy_id=deploy["id"], address=server.address, ca_pem=ca
        )

        remove_through_api(verein_a, instance_id)
        assert docker_client.containers.list(all=True, filters=label) == []
        assert docker_client.volumes.list(filters=label) == []
        assert not (server.root_dir / "proxy" / "sites" / f"{instance_id}.caddy").exists()
        with pytest.raises(httpx.ConnectError):
            get_by_hostname(running["url"], address=server.address, ca_pem=ca, path="/")

        # The subdomain is free again once the instance is removed.
        request_instance(verein_b, template="wordpress", name="blog", subdomain="blog")


def _shown_once_then_reset(
    verein: ApiClient, tenant_id: str, instance_id: str, *, deploy_id: str, address: str, ca_pem: str
) -> None:
    """The generated credentials are shown once (the admin's password, none of the internal ones), and
    a reset gives the admin a new password, shown once too."""
    url = verein.call("GET", f"/api/v1/instances/{instance_id}", expect=200)["url"]
    first = verein.call("GET", f"/api/v1/instances/{instance_id}/credentials", expect=200)
    old_password = first["credentials"]["admin_password"]
    assert set(first["credentials"]) == {"admin_password"}
    assert verein.http.get(f"/api/v1/instances/{instance_id}/credentials").status_code == 410
    assert _logs_in(url, address=address, ca_pem=ca_pem, password=old_password)
    assert not _logs_in(url, address=address, ca_pem=ca_pem, password="not-" + old_password)

    reset = verein.call("POST", f"/api/v1/instances/{instance_id}/credentials/reset", expect=202)
    assert reset["job"]["kind"] == "reset_credentials"
    succeeded(verein, reset["job"]["id"])
    assert verein.call("GET", f"/api/v1/instances/{instance_id}", expect=200)["state"] == "running"

    again = verein.call("GET", f"/api/v1/instances/{instance_id}/credentials", expect=200)
    new_password = again["credentials"]["admin_password"]
    assert new_password != old_password
    assert verein.http.get(f"/api/v1/instances/{instance_id}/credentials").status_code == 410
    assert not _logs_in(url, address=address, ca_pem=ca_pem, password=old_password)
    assert _logs_in(url, address=address, ca_pem=ca_pem, password=new_password)

    # Neither password reached the job's events; the reset is in the tenant's audit log.
    for job_id in (deploy_id, reset["job"]["id"]):
        events = verein.call("GET", f"/api/v1/jobs/{job_id}/events", expect=200)["items"]
        text = " ".join(e["line"] + e["stdout"] for e in events)
        assert old_password not in text
        assert new_password not in text
    audit = verein.call("GET", "/api/v1/audit", expect=200)["items"]
    assert ("reset_credentials", instance_id, tenant_id) in {
        (e["action"], e["target_id"], e["tenant_id"]) for e in audit
    }


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


def _other_ca() -> str:
    """Public CAs (certifi's bundle): none of them signed the proxy's local certificates."""
    import certifi  # noqa: PLC0415 - only this check needs it

    return Path(certifi.where()).read_text()
