"""Updates that roll back, and moves between servers, with a WordPress holding real data.

Real parts: the provisioner in embedded mode, two sshd test servers, Docker Engine, WordPress and
MariaDB images built from Debian packages (plus a broken WordPress release built the same way, offered
only by the test catalog made here), restic backing up over SFTP to a folder on the second server.
Both test servers share this machine's Docker Engine, which a move handles by emptying the source
before the target starts (see ``provisioner/engine/moves.py``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml

from provisioner.images import build_image
from tests.support.api_client import ApiClient, new_tenant
from tests.support.images import IMAGE_CACHE, TEMPLATES, build_all
from tests.support.lab import (
    add_server,
    add_sftp_target,
    approve,
    remove_every_instance,
    request_instance,
    succeeded,
)
from tests.support.proxy import get_by_hostname, remove_proxies, root_ca
from tests.support.sshd import TestServer
from tests.support.stack import Stack, embedded_stack

pytestmark = pytest.mark.e2e

BROKEN = "6.2-broken"
BROKEN_RECIPE = Path(__file__).parent / "broken_wordpress"
WINDOW = 30  # the test catalog's health window, short so the rollback test is quick
UPLOAD = "/var/lib/wordpress/wp-content/uploads/association-minutes.bin"
SQL = "SELECT body FROM notes ORDER BY id"


@pytest.fixture(scope="module")
def images(docker_client: docker.DockerClient, registry: str, proxy_image: str) -> dict[str, str]:
    built = build_all("wordpress/image", "provisioner/wordpress", client=docker_client, registry=registry)
    built |= build_all("_images/mariadb", "provisioner/mariadb", client=docker_client, registry=registry)
    built[BROKEN] = build_image(
        BROKEN_RECIPE,
        name="provisioner/wordpress-broken",
        version=BROKEN,
        registry=registry,
        cache_dir=IMAGE_CACHE,
        client=docker_client,
    )
    return built


def _test_catalog(root: Path) -> Path:
    """The shipped WordPress plus a release that never becomes healthy; nothing else offers it."""
    folder = root / "wordpress"
    shutil.copytree(TEMPLATES / "wordpress", folder, ignore=shutil.ignore_patterns("image"))
    path = folder / "template.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["versions"][BROKEN] = {
        "images": {
            "web": f"provisioner/wordpress-broken:{BROKEN}",
            "db": raw["versions"]["6.1"]["images"]["db"],
        }
    }
    raw["updates"] = {"path": "forward", "health_window_seconds": WINDOW}
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    return root


class Lab:
    def __init__(
        self, stack: Stack, operator: ApiClient, tenant: ApiClient, servers: list[TestServer]
    ) -> None:
        self.stack, self.operator, self.tenant, self.servers = stack, operator, tenant, servers
        self.server_ids: list[str] = []

    def add_server(self, server: TestServer) -> str:
        server_id = add_server(self.operator, server)
        self.server_ids.append(server_id)
        return server_id

    def wordpress(self, name: str, server_id: str) -> dict[str, Any]:
        requested = request_instance(self.tenant, template="wordpress", name=name)
        succeeded(self.tenant, approve(self.operator, requested["id"], server_id))
        return self.instance(requested["id"])

    def instance(self, instance_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.tenant.call("GET", f"/api/v1/instances/{instance_id}", expect=200)
        return found

    def events(self, job_id: str) -> list[str]:
        page = self.operator.call("GET", f"/api/v1/jobs/{job_id}/events", expect=200)
        return [event["line"] for event in page["items"]]


@pytest.fixture
def lab(
    tmp_path: Path,
    ssh_servers: list[TestServer],
    images: dict[str, str],
    registry: str,
    docker_client: docker.DockerClient,
) -> Iterator[Lab]:
    catalog = _test_catalog(tmp_path / "catalog")
    backup_server = ssh_servers[1]
    with ExitStack() as cleanup:
        stack = cleanup.enter_context(
            embedded_stack(
                tmp_path / "data",
                ssh_key=ssh_servers[0].client_key,
                registry=registry,
                env={"PROVISIONER_TEMPLATES_DIR": str(catalog)},
            )
        )
        operator = cleanup.enter_context(ApiClient(stack.base_url, stack.operator_token))
        # The lab's backups go over SFTP to a folder of the second test server.
        folder = backup_server.root_dir.parent / "backups"
        folder.mkdir(exist_ok=True)
        add_sftp_target(operator, backup_server, folder)
        _, tenant = new_tenant(operator, stack.base_url, "verein-a")
        cleanup.enter_context(tenant)
        lab = Lab(stack, operator, tenant, ssh_servers)
        cleanup.callback(lambda: remove_proxies(docker_client, lab.server_ids))
        cleanup.callback(remove_every_instance, docker_client, operator)
        yield lab


def _write_data(client: docker.DockerClient, instance_id: str) -> tuple[str, list[str]]:
    """An uploaded file of random bytes and rows in the site's database; returns what to compare."""
    web = client.containers.get(f"prv-{instance_id}-web")
    payload = os.urandom(32 * 1024).hex()  # one exec argument stays below Linux's 128 KiB
    done = web.exec_run(["sh", "-c", f"printf %s {payload} > {UPLOAD}"])
    assert done.exit_code == 0, done.output
    rows = ["Protokoll der Mitgliederversammlung", "Kassenbericht 2026 ✓"]
    sql = (
        "CREATE TABLE notes (id INT AUTO_INCREMENT PRIMARY KEY, body TEXT); "
        "INSERT INTO notes (body) VALUES ('Protokoll der Mitgliederversammlung'), ('Kassenbericht 2026 ✓');"
    )
    _db(client, instance_id, sql)
    return hashlib.sha256(payload.encode()).hexdigest(), rows


def _db(client: docker.DockerClient, instance_id: str, sql: str) -> str:
    result = client.containers.get(f"prv-{instance_id}-db").exec_run(
        ["mariadb", "-N", "-B", "--default-character-set=utf8mb4", "wordpress", "-e", sql]
    )
    assert result.exit_code == 0, result.output
    return str(result.output.decode())


def _read_data(client: docker.DockerClient, instance_id: str) -> tuple[str, list[str]]:
    web = client.containers.get(f"prv-{instance_id}-web")
    upload = web.exec_run(["cat", UPLOAD])
    assert upload.exit_code == 0, upload.output
    return hashlib.sha256(upload.output).hexdigest(), _db(client, instance_id, SQL).splitlines()


def _version_page(client: docker.DockerClient, instance: dict[str, Any], server: TestServer) -> str:
    """What the server's proxy answers for the instance's hostname, its certificate checked."""
    ca = root_ca(client, instance["server"])
    page = get_by_hostname(instance["url"], address=server.address, ca_pem=ca, path="/version.txt")
    assert page.status_code == 200
    return page.text.strip()


# Six jobs with WordPress deploys, backups and a move: longer than the suite's default limit on a busy
# machine.
@pytest.mark.timeout(2400)
def test_a_broken_release_rolls_back_a_good_one_keeps_the_data_and_a_drain_moves_it(
    lab: Lab, docker_client: docker.DockerClient
) -> None:
    """One WordPress with real data lives through both: the updates first, then its server's drain."""
    instance = lab.wordpress("blog", lab.add_server(lab.servers[0]))
    written = _write_data(docker_client, instance["id"])
    _rolled_back_then_updated(lab, docker_client, instance["id"], written)
    _drained(lab, docker_client, lab.instance(instance["id"]), written)


def _rolled_back_then_updated(
    lab: Lab, docker_client: docker.DockerClient, instance_id: str, written: tuple[str, list[str]]
) -> None:
    server = lab.servers[0]

    downgrade = lab.tenant.http.post(f"/api/v1/instances/{instance_id}/update", json={"version": "5.0"})
    assert downgrade.status_code == 422
    assert downgrade.json()["errors"][0] == {
        "field": "body.version",
        "message": f"allowed next: 6.1-r2, {BROKEN}",
    }

    # An update whose backup fails does not start and changes nothing: the engine's part is proven by
    # tests/provisioner/engine/test_updates.py::test_a_failed_backup_stops_the_update_before_anything_changed,
    # a backup playbook failing on a real server by tests/playbooks/test_backup_playbooks.py.
    broken = lab.tenant.call(
        "POST", f"/api/v1/instances/{instance_id}/update", expect=202, json={"version": BROKEN}
    )
    job, seen = lab.tenant.wait_for_job(broken["job"]["id"])
    assert job["status"] == "failed", seen
    assert job["error"].startswith(
        f"version {BROKEN} did not become healthy within {WINDOW} s; rolled back to 6.1, "
        "data restored from the backup taken at "
    ), job["error"]
    after = lab.instance(instance_id)
    assert (after["state"], after["version"], after["health"]) == ("running", "6.1", "healthy")
    assert after["state_reason"] == job["error"]
    assert _read_data(docker_client, instance_id) == written
    # What the broken release did to the uploads went with the restore.
    leftover = docker_client.containers.get(f"prv-{instance_id}-web").exec_run(
        ["test", "-e", "/var/lib/wordpress/wp-content/uploads/half-migrated.txt"]
    )
    assert leftover.exit_code == 1
    assert _version_page(docker_client, after, server) == "6.1"
    lines = lab.events(job["id"])
    assert "taking a backup first" in lines
    assert any(line.startswith(f"version {BROKEN} did not become healthy") for line in lines)
    backups = lab.tenant.call("GET", f"/api/v1/instances/{instance_id}/backups", expect=200)["items"]
    taken = [b for b in backups if b["job"] == job["id"]]
    assert [(b["status"], b["version"]) for b in taken] == [("succeeded", "6.1")]

    good = lab.tenant.call(
        "POST", f"/api/v1/instances/{instance_id}/update", expect=202, json={"version": "6.1-r2"}
    )
    job, seen = lab.tenant.wait_for_job(good["job"]["id"])
    assert job["status"] == "succeeded", (job["error"], seen)
    after = lab.instance(instance_id)
    assert (after["state"], after["version"], after["health"]) == ("running", "6.1-r2", "healthy")
    assert _version_page(docker_client, after, server) == "6.1-r2"
    assert _read_data(docker_client, instance_id) == written


def _drained(
    lab: Lab, docker_client: docker.DockerClient, instance: dict[str, Any], written: tuple[str, list[str]]
) -> None:
    """Draining the instance's server moves it, with its data and its address, to the other server."""
    source, target = lab.servers
    source_id, instance_id = instance["server"], instance["id"]
    target_id = lab.add_server(target)
    # Embedded mode registers the control plane's own machine too; it is not to take instances here.
    for other in lab.operator.call("GET", "/api/v1/servers", expect=200)["items"]:
        if other["id"] not in (source_id, target_id):
            lab.operator.call("PATCH", f"/api/v1/servers/{other['id']}", expect=200, json={"draining": True})

    drained = lab.operator.call("POST", f"/api/v1/servers/{source_id}/drain", expect=202)
    assert drained["server"]["draining"] is True
    [move] = drained["moves"]
    servers = {s["id"]: s["name"] for s in lab.operator.call("GET", "/api/v1/servers", expect=200)["items"]}
    assert (move["instance"], move["job"]["kind"]) == (instance_id, "move")
    assert servers[move["to_server"]] == target.name, (servers, source_id, target_id, drained)
    # While it travels, the target holds the instance's room.
    assert lab.operator.call("GET", f"/api/v1/servers/{target_id}", expect=200)["used"]["memory_mb"] == 512

    job, seen = lab.operator.wait_for_job(move["job"]["id"])
    assert job["status"] == "succeeded", (job["error"], seen)
    moved = lab.instance(instance_id)
    assert (moved["state"], moved["health"], moved["server"]) == ("running", "healthy", target_id)
    # The lab's domain stays: the URL is the same, now answered by the target's proxy.
    assert moved["url"] == instance["url"]
    assert _version_page(docker_client, moved, target) == instance["version"]
    assert _read_data(docker_client, instance_id) == written
    assert not (source.root_dir / "instances" / instance_id).exists()
    assert (target.root_dir / "instances" / instance_id).is_dir()
    assert not (source.root_dir / "proxy" / "sites" / f"{instance_id}.caddy").exists()
    lines = lab.events(job["id"])
    steps = [
        "taking a backup first",
        f"removing the instance from {source.name}",
        f"deploying on {target.name}",
    ]
    assert all(step in lines for step in steps), lines
    assert lines.index(steps[1]) < lines.index(steps[2])
    assert f"moved from {source.name} to {target.name}" in lines
    emptied = lab.operator.call("GET", f"/api/v1/servers/{source_id}", expect=200)
    assert emptied["used"] == {"cpu": 0, "memory_mb": 0, "disk_gb": 0}
    # A draining server takes no new instances.
    again = lab.tenant.call(
        "POST",
        "/api/v1/instances",
        expect=201,
        json={"template": "wordpress", "name": "other", "parameters": {}},
    )
    refused = lab.operator.http.post(f"/api/v1/instances/{again['id']}/approve", json={"server": source_id})
    assert refused.status_code == 409
