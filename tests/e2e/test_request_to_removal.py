"""One real request travels the whole chain, through HTTP only, in embedded mode (one command).

Real parts: SQLite and the SQL broker transport, the provisioner processes, an sshd server on its own
loopback address, Docker Engine, and an image built from Debian packages and pulled from the local
registry. Production mode (PostgreSQL, Redis, API, worker and scheduler as separate processes) runs the
same chain in tests/e2e/test_job_engine.py and tests/e2e/test_no_secret_anywhere.py.
"""

from __future__ import annotations

import html
from contextlib import ExitStack
from pathlib import Path

import docker
import httpx
import pytest

from tests.support.api_client import ApiClient, new_tenant
from tests.support.lab import (
    JOB_TIMEOUT,
    add_server,
    approve,
    leftovers,
    remove_through_api,
    request_instance,
)
from tests.support.payloads import WORST
from tests.support.proxy import get_by_hostname, remove_proxies, root_ca
from tests.support.sshd import TestServer
from tests.support.stack import Stack, embedded_stack

pytestmark = pytest.mark.e2e

# Jinja, an Ansible lookup, shell substitutions, YAML: all must arrive on the page as plain text.
INJECTION_TITLE = WORST


def request_deploy_check_remove(stack: Stack, server: TestServer, client: docker.DockerClient) -> None:
    with ExitStack() as cleanup:
        operator = cleanup.enter_context(ApiClient(stack.base_url, stack.operator_token))
        server_id = add_server(operator, server)
        added = operator.call("GET", f"/api/v1/servers/{server_id}", expect=200)
        assert added["host_key"] == server.host_key, "the host key recorded at onboarding is the server's own"
        cleanup.callback(remove_proxies, client, [server_id])
        verein_a = cleanup.enter_context(new_tenant(operator, stack.base_url, "verein-a")[1])
        verein_b = cleanup.enter_context(new_tenant(operator, stack.base_url, "verein-b")[1])

        requested = request_instance(
            verein_a, template="homepage", name="site", parameters={"title": INJECTION_TITLE}
        )
        assert requested["state"] == "requested"
        assert requested["parameters"]["title"] == INJECTION_TITLE
        instance_id = requested["id"]

        job, seen = verein_a.wait_for_job(approve(operator, instance_id, server_id), timeout=JOB_TIMEOUT)
        assert job["status"] == "succeeded", job["error"]
        statuses = ["queued"] + [s for s in seen if s != "queued"]
        assert statuses == ["queued", "running", "succeeded"]

        events = verein_a.call("GET", f"/api/v1/jobs/{job['id']}/events", expect=200)["items"]
        sequence = [e["seq"] for e in events]
        assert sequence == sorted(set(sequence))
        assert any(e["line"] == "Step: Start the instance behind the server's proxy" for e in events)
        assert events[-1]["line"] == "Finished"

        running = verein_a.call("GET", f"/api/v1/instances/{instance_id}", expect=200)
        assert running["state"] == "running"
        assert running["health"] == "healthy"
        assert running["checked_at"] is not None
        # Through the server's proxy by hostname, over TLS from the proxy's own CA.
        assert running["url"] == f"https://{running['hostname']}/"
        page = get_by_hostname(running["url"], address=server.address, ca_pem=root_ca(client, server_id))
        assert page.status_code == 200
        assert INJECTION_TITLE in html.unescape(page.text)
        # On the server too, the file holds the text as typed; `id` never ran anywhere.
        seed = Path(server.root_dir) / "instances" / instance_id / "seed" / "index.html"
        assert INJECTION_TITLE in html.unescape(seed.read_text())
        stdout = verein_a.http.get(f"/api/v1/jobs/{job['id']}/stdout").text
        assert all("uid=" not in text for text in (page.text, seed.read_text(), stdout))
        owned = [f"prv-{instance_id}", f"prv-{instance_id}-site", f"prv-{instance_id}-web"]
        assert sorted(leftovers(client, instance_id)) == owned

        # Another association sees none of it, exactly as if it did not exist.
        verein_b.call("GET", f"/api/v1/instances/{instance_id}", expect=404)
        verein_b.call("GET", f"/api/v1/jobs/{job['id']}", expect=404)
        verein_b.call("GET", f"/api/v1/jobs/{job['id']}/events", expect=404)
        verein_b.call("DELETE", f"/api/v1/instances/{instance_id}", expect=404)
        assert verein_b.call("GET", "/api/v1/instances", expect=200)["items"] == []
        assert verein_b.call("GET", "/api/v1/jobs", expect=200)["items"] == []
        assert verein_b.call("GET", f"/api/v1/jobs?instance={instance_id}", expect=200)["items"] == []

        remove_through_api(verein_a, instance_id)
        assert verein_a.call("GET", f"/api/v1/instances/{instance_id}", expect=200)["state"] == "removed"
        assert leftovers(client, instance_id) == []
        assert not (Path(server.root_dir) / "instances" / instance_id).exists()


def test_embedded_mode_sqlite_one_command(
    tmp_path: Path,
    ssh_servers: list[TestServer],
    homepage_images: dict[str, str],
    registry: str,
    docker_client: docker.DockerClient,
) -> None:
    with embedded_stack(tmp_path, ssh_key=ssh_servers[1].client_key, registry=registry) as stack:
        assert httpx.get(f"{stack.base_url}/healthz").json() == {"status": "ok"}
        assert "swagger" in httpx.get(f"{stack.base_url}/docs").text.lower()
        request_deploy_check_remove(stack, ssh_servers[1], docker_client)
