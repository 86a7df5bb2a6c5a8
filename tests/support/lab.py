"""The lab as the end-to-end tests and the benchmarks drive it, through the public API only: servers to
deploy on, an SFTP backup target on a second test server, instances requested, approved and waited
for, removed, and tidying away whatever instances the lab made. An association and its client come
from ``tests.support.api_client.new_tenant``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docker

from tests.support.api_client import JOB_TIMEOUT, ApiClient
from tests.support.sshd import TestServer

INSTANCE_LABEL = "org.provisioner.instance"


def add_server(operator: ApiClient, server: TestServer, *, cpu: int = 2) -> str:
    """The test server as a deploy target with room for ``cpu`` one-core services; returns its id."""
    added = operator.call(
        "POST",
        "/api/v1/servers",
        expect=201,
        json={
            "name": server.name,
            "address": server.address,
            "port": server.port,
            "user": server.user,
            "root_dir": str(server.root_dir),
            "capacity": {"cpu": cpu, "memory_mb": 1024 * cpu, "disk_gb": 10 * cpu},
        },
    )
    return str(added["id"])


def add_sftp_target(operator: ApiClient, backup_server: TestServer, folder: Path) -> dict[str, Any]:
    """A backup target in ``folder`` of the backup server, its host key pinned, the target's own public
    key authorized there; returns the target as the API shows it."""
    target: dict[str, Any] = operator.call(
        "POST",
        "/api/v1/backup-targets",
        expect=201,
        json={
            "name": "lab",
            "kind": "sftp",
            "path": str(folder),
            "address": backup_server.address,
            "user": backup_server.user,
            "host_key": backup_server.host_key,
        },
    )
    with (backup_server.root_dir.parent / "authorized_keys").open("a") as keys:
        keys.write(target["public_key"] + "\n")
    return target


def request_instance(
    tenant: ApiClient,
    *,
    template: str,
    name: str,
    subdomain: str | None = None,
    parameters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The tenant's request for an instance; returns it as the API answered."""
    body: dict[str, Any] = {"template": template, "name": name, "parameters": parameters or {}}
    if subdomain is not None:
        body["subdomain"] = subdomain
    requested: dict[str, Any] = tenant.call("POST", "/api/v1/instances", expect=201, json=body)
    return requested


def approve(operator: ApiClient, instance_id: str, server_id: str) -> str:
    """The operator approves the instance onto the server; returns the id of its deploy job."""
    accepted = operator.call(
        "POST", f"/api/v1/instances/{instance_id}/approve", expect=202, json={"server": server_id}
    )
    assert accepted["job"]["status"] == "queued"
    return str(accepted["job"]["id"])


def succeeded(client: ApiClient, job_id: str, *, timeout: float = JOB_TIMEOUT) -> dict[str, Any]:
    """The job once it ended, which it did with success."""
    job, _ = client.wait_for_job(job_id, timeout=timeout)
    assert job["status"] == "succeeded", job["error"]
    return job


def job_succeeded(
    client: ApiClient, accepted: dict[str, Any], *, timeout: float = JOB_TIMEOUT
) -> dict[str, Any]:
    """The job an accepted request (its 202 answer) started, once it ended with success."""
    return succeeded(client, str(accepted["job"]["id"]), timeout=timeout)


def deploy_instance(
    operator: ApiClient,
    tenant: ApiClient,
    *,
    template: str,
    name: str,
    server_id: str,
    timeout: float = JOB_TIMEOUT,
    parameters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An instance the tenant requests (at ``name``'s subdomain) and the operator approves onto the
    server; returns it as the tenant sees it once its deploy succeeded."""
    requested = request_instance(tenant, template=template, name=name, subdomain=name, parameters=parameters)
    succeeded(tenant, approve(operator, requested["id"], server_id), timeout=timeout)
    found: dict[str, Any] = tenant.call("GET", f"/api/v1/instances/{requested['id']}", expect=200)
    return found


def remove_through_api(
    client: ApiClient, instance_id: str, *, timeout: float = JOB_TIMEOUT
) -> dict[str, Any]:
    """The instance removed by a removal job, which succeeded; returns that job."""
    removal = client.call("DELETE", f"/api/v1/instances/{instance_id}", expect=202)
    return succeeded(client, removal["job"]["id"], timeout=timeout)


def leftovers(client: docker.DockerClient, instance_id: str) -> list[str]:
    """Names of the containers, networks and volumes still labelled with the instance."""
    label = {"label": f"{INSTANCE_LABEL}={instance_id}"}
    return [
        *(c.name for c in client.containers.list(all=True, filters=label)),
        *(n.name for n in client.networks.list(filters=label)),
        *(v.name for v in client.volumes.list(filters=label)),
    ]


def remove_every_instance(client: docker.DockerClient, operator: ApiClient) -> None:
    """What a failed test leaves behind, for every instance the API knows (while it still answers)."""
    for row in operator.call("GET", "/api/v1/instances", expect=200)["items"]:
        remove_instance(client, row["id"])


def remove_instance(client: docker.DockerClient, instance_id: str) -> None:
    label = {"label": f"{INSTANCE_LABEL}={instance_id}"}
    for container in client.containers.list(all=True, filters=label):
        container.remove(force=True)
    for network in client.networks.list(filters=label):
        network.reload()
        for attached in network.containers:  # the server's proxy
            network.disconnect(attached, force=True)
        network.remove()
    for volume in client.volumes.list(filters=label):
        volume.remove(force=True)
