"""Discourse's route through its upstream launcher, run by the job engine end to end — with a
STAND-IN launcher and a STAND-IN image, because GitHub (discourse_docker) and Docker Hub (Discourse's
base image) cannot be reached here.

The stand-in is a git repository the test makes: a ``launcher`` shell script with upstream's command
line (``rebuild NAME``, ``destroy NAME``) that reads ``containers/NAME.yml`` like upstream does
(``docker_args``, ``labels``, the first volume) and starts the locally built homepage image from the
local registry, tagged ``local_discourse/NAME`` as upstream tags its build, serving ``/srv/status`` =
``ok`` from that volume. The test copy of the template points ``launcher.repository``/``ref`` at it;
everything else is real: the provisioner in embedded mode, an sshd test server, Docker Engine, the
engine's deploy.yml including the template's launcher tasks (git clone at the pinned commit,
definition placed, ``./launcher rebuild``), the server's Caddy proxy and health check, and remove.yml
(``./launcher destroy``, the launcher's image, then everything labelled).
"""

from __future__ import annotations

import shutil
import subprocess
from contextlib import ExitStack
from pathlib import Path

import docker
import pytest
import yaml

from provisioner.config import Settings
from tests.support.api_client import ApiClient, new_tenant
from tests.support.proxy import get_by_hostname, proxy_container, remove_proxies, root_ca
from tests.support.sshd import TestServer
from tests.support.stack import embedded_stack

pytestmark = pytest.mark.e2e

LABEL = "org.provisioner.instance"

# Upstream's command line and definition format, with the image given instead of bootstrapped.
STAND_IN_LAUNCHER = """#!/bin/sh
# Stand-in for discourse_docker's launcher (upstream cannot be fetched in the tests).
set -eu
command=$1
name=$2
config="containers/$name.yml"
case "$command" in
rebuild)
    docker_args=$(sed -n 's/^docker_args: "\\(.*\\)"$/\\1/p' "$config")
    instance=$(sed -n 's/^ *org.provisioner.instance: "\\(.*\\)"$/\\1/p' "$config")
    shared=$(sed -n 's/^ *host: \\(.*\\)$/\\1/p' "$config" | head -n 1)
    docker run --rm -v "$shared:/site" --entrypoint sh @IMAGE@ \
        -c 'mkdir -p /site/srv && printf ok > /site/srv/status'
    docker rm -f "$name" >/dev/null 2>&1 || true
    # Upstream tags what it bootstrapped as local_discourse/NAME and runs that.
    docker tag @IMAGE@ "local_discourse/$name"
    # shellcheck disable=SC2086 # docker_args are several arguments, as upstream splits them
    docker run -d --name "$name" --restart unless-stopped $docker_args \\
        --label "org.provisioner.instance=$instance" -v "$shared:/var/www/site" "local_discourse/$name"
    ;;
destroy)
    docker rm -f "$name"
    ;;
*)
    echo "unknown command $command" >&2
    exit 1
    ;;
esac
"""


def _git(folder: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def stand_in_launcher_repository(folder: Path, image: str) -> str:
    """A git repository with the stand-in launcher; returns its commit."""
    if shutil.which("git") is None:
        pytest.fail("git is needed for the stand-in launcher repository", pytrace=False)
    (folder / "containers").mkdir(parents=True)
    (folder / "containers" / ".gitkeep").write_text("")
    script = folder / "launcher"
    script.write_text(STAND_IN_LAUNCHER.replace("@IMAGE@", image))
    script.chmod(0o755)
    _git(folder, "init", "-q", "-b", "main")
    _git(folder, "add", "-A")
    _git(folder, "-c", "user.name=test", "-c", "user.email=test@example.org", "commit", "-qm", "stand-in")
    # A pinned commit is fetched by its id, as from GitHub.
    _git(folder, "config", "uploadpack.allowAnySHA1InWant", "true")
    return _git(folder, "rev-parse", "HEAD")


def templates_with_stand_in(root: Path, repository: Path, commit: str) -> Path:
    """A copy of the shipped Discourse template whose launcher is the stand-in repository."""
    templates = root / "templates"
    shutil.copytree(Settings().resolved_templates_dir / "discourse", templates / "discourse")
    path = templates / "discourse" / "template.yaml"
    document = yaml.safe_load(path.read_text())
    document["launcher"] |= {"repository": f"file://{repository}", "ref": commit}
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    return templates


def test_discourse_via_stand_in_launcher_deploys_healthy_through_the_proxy_and_removes_everything(
    tmp_path: Path,
    ssh_servers: list[TestServer],
    homepage_images: dict[str, str],
    registry: str,
    docker_client: docker.DockerClient,
) -> None:
    server = ssh_servers[0]
    repository = tmp_path / "discourse_docker"
    commit = stand_in_launcher_repository(repository, homepage_images["1.0"])
    templates = templates_with_stand_in(tmp_path, repository, commit)
    with ExitStack() as cleanup:
        stack = cleanup.enter_context(
            embedded_stack(
                tmp_path / "data",
                ssh_key=server.client_key,
                registry=registry,
                env={"PROVISIONER_TEMPLATES_DIR": str(templates)},
            )
        )
        operator = cleanup.enter_context(ApiClient(stack.base_url, stack.operator_token))
        added = operator.call(
            "POST",
            "/api/v1/servers",
            expect=201,
            json={
                "name": server.name,
                "address": server.address,
                "root_dir": str(server.root_dir),
                "capacity": {"cpu": 4, "memory_mb": 4096, "disk_gb": 40},
            },
        )
        cleanup.callback(remove_proxies, docker_client, [added["id"]])
        verein = cleanup.enter_context(new_tenant(operator, stack.base_url, "verein-forum")[1])
        requested = verein.call(
            "POST",
            "/api/v1/instances",
            expect=201,
            json={
                "template": "discourse",
                "name": "forum",
                "subdomain": "forum",
                "parameters": {"admin_email": "vorstand@verein.example"},
            },
        )
        instance_id = requested["id"]
        label = {"label": f"{LABEL}={instance_id}"}
        cleanup.callback(_remove_leftovers, docker_client, label, f"local_discourse/prv-{instance_id}-app")
        accepted = operator.call(
            "POST", f"/api/v1/instances/{instance_id}/approve", expect=202, json={"server": added["id"]}
        )
        job, _ = verein.wait_for_job(accepted["job"]["id"], timeout=400)
        assert job["status"] == "succeeded", job["error"]
        running = verein.call("GET", f"/api/v1/instances/{instance_id}", expect=200)
        assert (running["state"], running["health"]) == ("running", "healthy")

        # The launcher's container answers the template's health path by hostname through the proxy.
        ca = root_ca(docker_client, added["id"])
        status = get_by_hostname(running["url"], address=server.address, ca_pem=ca, path="/srv/status")
        assert (status.status_code, status.text) == (200, "ok")

        # Built by the launcher from the definition the engine placed: named as the proxy expects, on
        # the instance network only (shared with the proxy), no host ports, the template's limits.
        instance_dir = server.root_dir / "instances" / instance_id
        assert (instance_dir / "discourse_docker" / "containers" / f"prv-{instance_id}-app.yml").is_file()
        assert _git(instance_dir / "discourse_docker", "rev-parse", "HEAD") == commit
        [container] = docker_client.containers.list(filters=label)
        assert container.name == f"prv-{instance_id}-app"
        assert f"local_discourse/prv-{instance_id}-app:latest" in container.image.tags
        assert not container.attrs["HostConfig"]["PortBindings"]
        assert container.attrs["HostConfig"]["Memory"] == 2048 * 1024 * 1024
        # Discourse's data lives on the instance's labelled volumes, which backups and removal find.
        volumes = {v.name for v in docker_client.volumes.list(filters=label)}
        assert volumes == {f"prv-{instance_id}-shared", f"prv-{instance_id}-log"}
        # (The stand-in mounts the first volume of the definition only.)
        mounted = {m["Name"] for m in container.attrs["Mounts"] if m["Type"] == "volume"}
        assert mounted == {f"prv-{instance_id}-shared"}
        network = docker_client.networks.get(f"prv-{instance_id}")
        assert {c.name for c in network.containers} == {
            container.name,
            proxy_container(docker_client, added["id"]).name,
        }

        removal = verein.call("DELETE", f"/api/v1/instances/{instance_id}", expect=202)
        job, _ = verein.wait_for_job(removal["job"]["id"])
        assert job["status"] == "succeeded", job["error"]
        assert docker_client.containers.list(all=True, filters=label) == []
        assert docker_client.networks.list(filters=label) == []
        assert docker_client.networks.list(names=[f"prv-{instance_id}"]) == []
        assert docker_client.volumes.list(filters=label) == []
        assert docker_client.images.list(name=f"local_discourse/prv-{instance_id}-app") == []
        assert not instance_dir.exists()
        assert not (server.root_dir / "proxy" / "sites" / f"{instance_id}.caddy").exists()


def _remove_leftovers(client: docker.DockerClient, label: dict[str, str], image: str) -> None:
    """Only after a failed run: what the launcher made, so later tests start clean."""
    for container in client.containers.list(all=True, filters=label):
        container.remove(force=True)
    for network in client.networks.list(filters=label):
        network.reload()
        for attached in network.containers:  # the proxy, still running at this point
            network.disconnect(attached, force=True)
        network.remove()
    for volume in client.volumes.list(filters=label):
        volume.remove(force=True)
    if client.images.list(name=image):
        client.images.remove(image)
