"""Two associations, one WordPress: each gets a space (a site of a shared WordPress network) at its own
address, its admin signs in there and cannot administer the other's, and the shared instance goes with
its last space.

Real parts: the provisioner in embedded mode with its worker and job engine, an sshd test server,
Docker Engine, WordPress and MariaDB built from Debian packages, pulled from the local registry, and
the server's Caddy proxy with its own CA.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from tests.support.api_client import ApiClient, new_tenant
from tests.support.lab import INSTANCE_LABEL, add_server, remove_every_instance
from tests.support.proxy import get_by_hostname, remove_proxies, root_ca
from tests.support.sshd import TestServer
from tests.support.stack import embedded_stack
from tests.support.wordpress import dashboard_status, sign_in

pytestmark = pytest.mark.e2e


def test_two_spaces_share_one_wordpress_each_admin_only_in_its_own_and_the_last_removal_takes_it(
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
        # Whatever a failure leaves (the shared instance), while the API still answers.
        cleanup.callback(remove_every_instance, docker_client, operator)
        operator.call(
            "PUT", "/api/v1/catalog/wordpress/modes", expect=200, json={"modes": ["dedicated", "shared"]}
        )
        spaces: dict[str, dict[str, Any]] = {}
        admins: dict[str, ApiClient] = {}
        for slug in ("verein-a", "verein-b"):
            admins[slug] = cleanup.enter_context(new_tenant(operator, stack.base_url, slug)[1])
            spaces[slug] = admins[slug].call(
                "POST",
                "/api/v1/spaces",
                expect=201,
                json={"template": "wordpress", "name": "web", "subdomain": slug},
            )
        jobs = [
            operator.call(
                "POST",
                f"/api/v1/spaces/{spaces[slug]['id']}/approve",
                expect=202,
                json={"server": server_id},
            )["job"]
            for slug in spaces
        ]
        for slug, job in zip(spaces, jobs, strict=True):
            done, _ = admins[slug].wait_for_job(job["id"], timeout=500)
            assert done["status"] == "succeeded", done["error"]
        shared_id = jobs[0]["instance"]
        assert jobs[1]["instance"] == shared_id  # the second space went into the first's instance
        shared = operator.call("GET", f"/api/v1/instances/{shared_id}", expect=200)
        assert (shared["state"], shared["health"]) == ("running", "healthy")
        ca = root_ca(docker_client, server_id)

        # Each association's admin, shown once, signs in to its own site and is refused at the other's.
        signed_in = {}
        for slug, admin in admins.items():
            space = admin.call("GET", f"/api/v1/spaces/{spaces[slug]['id']}", expect=200)
            assert (space["state"], space["health"], space["url"]) == (
                "running",
                "healthy",
                f"https://{slug}.localhost/",
            )
            shown = admin.call("POST", f"/api/v1/spaces/{space['id']}/credentials", expect=200)
            own = sign_in(space["url"], shown["user"], shown["password"], address=server.address, ca_pem=ca)
            assert dashboard_status(space["url"], own, address=server.address, ca_pem=ca) == 200
            signed_in[slug] = shown
        other = sign_in(
            "https://verein-b.localhost/",
            signed_in["verein-a"]["user"],
            signed_in["verein-a"]["password"],
            address=server.address,
            ca_pem=ca,
        )
        assert (
            dashboard_status("https://verein-b.localhost/", other, address=server.address, ca_pem=ca) == 403
        )

        # One space goes: its site and address with it, the other's stays.
        removal = admins["verein-a"].call("DELETE", f"/api/v1/spaces/{spaces['verein-a']['id']}", expect=202)
        done, _ = admins["verein-a"].wait_for_job(removal["job"]["id"])
        assert done["status"] == "succeeded", done["error"]
        with pytest.raises(httpx.HTTPError):
            get_by_hostname(
                "https://verein-a.localhost/", address=server.address, ca_pem=ca, path="/wp-login.php"
            )
        page = get_by_hostname(
            "https://verein-b.localhost/", address=server.address, ca_pem=ca, path="/wp-login.php"
        )
        assert page.status_code == 200
        assert operator.call("GET", f"/api/v1/instances/{shared_id}", expect=200)["state"] == "running"

        # The last space takes the shared instance with it.
        removal = admins["verein-b"].call("DELETE", f"/api/v1/spaces/{spaces['verein-b']['id']}", expect=202)
        done, _ = admins["verein-b"].wait_for_job(removal["job"]["id"])
        assert done["status"] == "succeeded", done["error"]
        assert operator.call("GET", f"/api/v1/instances/{shared_id}", expect=200)["state"] == "removed"
        label = {"label": f"{INSTANCE_LABEL}={shared_id}"}
        assert docker_client.containers.list(all=True, filters=label) == []
        assert docker_client.volumes.list(filters=label) == []
        # Other tests on this server leave routes of their own: only the shared instance's must be gone.
        assert not (server.root_dir / "proxy" / "sites" / f"{shared_id}.caddy").exists()
