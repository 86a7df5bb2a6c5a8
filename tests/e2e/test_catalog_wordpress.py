"""A service with a database, built from Debian packages, deployed for real through the whole chain:
request → approve → running → healthy by its hostname through the server's proxy → remove.

Real parts: the provisioner in embedded mode, an sshd test server, Docker Engine, WordPress and
MariaDB images built from Debian packages and pulled from the local registry, and the server's Caddy
proxy with its own CA, whose chain the test checks.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import docker
import httpx
import pytest

from tests.support.api_client import ApiClient, new_tenant
from tests.support.proxy import get_by_hostname, proxy_container, remove_proxies, root_ca
from tests.support.sshd import TestServer
from tests.support.stack import embedded_stack

pytestmark = pytest.mark.e2e

LABEL = "org.provisioner.instance"


def test_wordpress_request_approve_healthy_by_hostname_then_remove(
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
        verein_a = cleanup.enter_context(new_tenant(operator, stack.base_url, "verein-a")[1])
        verein_b = cleanup.enter_context(new_tenant(operator, stack.base_url, "verein-b")[1])

        refused = verein_a.http.post(
            "/api/v1/instances",
            json={"template": "wordpress", "name": "blog", "parameters": {"language": "xx"}},
        )
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "body.parameters.language"

        requested = verein_a.call(
            "POST",
            "/api/v1/instances",
            expect=201,
            json={"template": "wordpress", "name": "blog", "subdomain": "blog", "parameters": {}},
        )
        assert requested["hostname"] == "blog.localhost"
        taken = verein_b.http.post(
            "/api/v1/instances",
            json={"template": "wordpress", "name": "blog", "subdomain": "blog", "parameters": {}},
        )
        assert taken.status_code == 409
        assert taken.json()["errors"][0]["field"] == "body.subdomain"

        instance_id = requested["id"]
        accepted = operator.call(
            "POST", f"/api/v1/instances/{instance_id}/approve", expect=202, json={"server": added["id"]}
        )
        job, _ = verein_a.wait_for_job(accepted["job"]["id"], timeout=400)
        assert job["status"] == "succeeded", job["error"]
        running = verein_a.call("GET", f"/api/v1/instances/{instance_id}", expect=200)
        assert (running["state"], running["health"]) == ("running", "healthy")
        assert running["url"] == "https://blog.localhost/"

        # By hostname through the proxy, with a certificate for that name from the proxy's CA.
        ca = root_ca(docker_client, added["id"])
        page = get_by_hostname(
            running["url"], address=server.address, ca_pem=ca, path="/wp-admin/install.php"
        )
        assert page.status_code == 200
        assert "WordPress" in page.text
        assert "Error establishing a database connection" not in page.text
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            get_by_hostname(running["url"], address=server.address, ca_pem=_other_ca(), path="/")

        # Isolation on the server: its own network (shared with the proxy only), volumes, no host ports.
        label = {"label": f"{LABEL}={instance_id}"}
        containers = {c.name: c for c in docker_client.containers.list(filters=label)}
        assert set(containers) == {f"prv-{instance_id}-db", f"prv-{instance_id}-web"}
        assert all(not c.attrs["HostConfig"]["PortBindings"] for c in containers.values())
        assert containers[f"prv-{instance_id}-db"].attrs["HostConfig"]["Memory"] == 256 * 1024 * 1024
        network = docker_client.networks.get(f"prv-{instance_id}")
        attached = {c.name for c in network.containers}
        assert attached == {*containers, proxy_container(docker_client, added["id"]).name}
        volumes = {v.name for v in docker_client.volumes.list(filters=label)}
        assert volumes == {f"prv-{instance_id}-db", f"prv-{instance_id}-content"}
        # The database keeps its data on the instance's volume.
        listing = containers[f"prv-{instance_id}-db"].exec_run(["ls", "/var/lib/mysql/wordpress"])
        assert listing.exit_code == 0

        # The generated credentials are shown once: the admin's password, none of the internal ones.
        shown = verein_a.call("GET", f"/api/v1/instances/{instance_id}/credentials", expect=200)
        assert set(shown["credentials"]) == {"admin_password"}
        gone = verein_a.http.get(f"/api/v1/instances/{instance_id}/credentials")
        assert gone.status_code == 410

        removal = verein_a.call("DELETE", f"/api/v1/instances/{instance_id}", expect=202)
        job, _ = verein_a.wait_for_job(removal["job"]["id"])
        assert job["status"] == "succeeded", job["error"]
        assert docker_client.containers.list(all=True, filters=label) == []
        assert docker_client.volumes.list(filters=label) == []
        assert not (server.root_dir / "proxy" / "sites" / f"{instance_id}.caddy").exists()
        with pytest.raises(httpx.ConnectError):
            get_by_hostname(running["url"], address=server.address, ca_pem=ca, path="/")

        # The subdomain is free again once the instance is removed.
        verein_b.call(
            "POST",
            "/api/v1/instances",
            expect=201,
            json={"template": "wordpress", "name": "blog", "subdomain": "blog", "parameters": {}},
        )


def _other_ca() -> str:
    """Public CAs (certifi's bundle): none of them signed the proxy's local certificates."""
    import certifi  # noqa: PLC0415 - only this check needs it

    return Path(certifi.where()).read_text()
