"""A deploy refuses an image that keeps data in a volume the template does not mount (an anonymous
volume would escape backups, restores and removal): deploy.yml's check, on a real sshd test server
with an image that declares two volumes."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from provisioner.runner.adapter import run_playbook
from provisioner.runner.spec import HostSpec, RunSpec
from tests.support.sinks import CollectingSink
from tests.support.sshd import TestServer

pytestmark = pytest.mark.e2e

PLAY = """---
- name: Check the images of an instance
  hosts: all
  gather_facts: false
  tasks:
    - name: The check deploy.yml runs with the pull, before starting containers
      provisioner_step:
        phase: images
        containers: "{{ containers }}"
"""


@pytest.fixture
def image_with_volumes(docker_client: docker.DockerClient, proxy_image: str) -> Iterator[str]:
    """The proxy image, committed with two VOLUME folders as a Dockerfile would declare them."""
    container = docker_client.containers.create(proxy_image, ["true"])
    repository = f"prv-test-volumes-{secrets.token_hex(4)}"
    try:
        container.commit(repository=repository, tag="1", changes=["VOLUME /data", "VOLUME /cache/"])
    finally:
        container.remove(force=True)
    try:
        yield f"{repository}:1"
    finally:
        docker_client.images.remove(f"{repository}:1", force=True)


def _check(tmp_path: Path, server: TestServer, image: str, targets: list[str]) -> tuple[str, str | None]:
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir(exist_ok=True)
    (playbooks / "check.yml").write_text(PLAY)
    mounts = [{"type": "volume", "source": f"v{i}", "target": t} for i, t in enumerate(targets)]
    spec = RunSpec(
        playbook="check.yml",
        playbooks_dir=playbooks,
        host=HostSpec(server.name, server.address, server.port, server.user, "ssh", server.host_key),
        variables={"containers": [{"alias": "app", "image": image, "mounts": mounts}]},
        ssh_private_key=server.client_key.read_text(),
        timeout_seconds=300,
    )
    outcome = run_playbook(spec, CollectingSink(), work_root=tmp_path / "runs")
    return outcome.status, outcome.error


def test_an_image_volume_the_template_does_not_mount_is_refused_by_name(
    tmp_path: Path, ssh_servers: list[TestServer], image_with_volumes: str
) -> None:
    status, error = _check(tmp_path, ssh_servers[0], image_with_volumes, ["/data"])
    assert status == "failed"
    assert error is not None
    assert f"app: the image {image_with_volumes} keeps data in /cache, which the template does not mount" in (
        " ".join(error.split())
    )
    assert _check(tmp_path, ssh_servers[0], image_with_volumes, ["/data", "/cache"]) == ("successful", None)


def test_an_image_without_volumes_passes(
    tmp_path: Path, ssh_servers: list[TestServer], proxy_image: str, docker_client: docker.DockerClient
) -> None:
    declared: Any = docker_client.images.get(proxy_image).attrs["Config"].get("Volumes")
    assert not declared
    assert _check(tmp_path, ssh_servers[0], proxy_image, []) == ("successful", None)
