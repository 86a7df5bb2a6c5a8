"""Turns an instance and its template into a run spec. Docker names come from the instance id only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from provisioner.catalog.images import resolve_image
from provisioner.catalog.loader import Catalog
from provisioner.catalog.model import volume_names
from provisioner.catalog.render import render_files
from provisioner.config import Settings
from provisioner.jobs.states import JobKind
from provisioner.models import Instance, Server
from provisioner.runner.spec import HostSpec, RunSpec

LABEL_INSTANCE = "org.provisioner.instance"
LABEL_TENANT = "org.provisioner.tenant"


def docker_name(instance: Instance, suffix: str | None = None) -> str:
    return f"prv-{instance.id}" + (f"-{suffix}" if suffix else "")


def instance_url(server: Server, port: int) -> str:
    return f"http://{server.public_address}:{port}/"


def _host(server: Server) -> HostSpec:
    return HostSpec(
        name=server.name,
        address=server.address,
        port=server.port,
        user=server.user,
        connection=server.connection,
        host_key=server.host_key,
    )


def _ssh_key(settings: Settings, server: Server) -> str | None:
    if server.connection != "ssh":
        return None
    return settings.resolved_ssh_key_path.read_text()


def _deploy_variables(
    settings: Settings, catalog: Catalog, instance: Instance, server: Server, version_name: str
) -> dict[str, Any]:
    template = catalog.get(instance.template)
    version = template.versions[version_name]
    instance_dir = f"{server.root_dir}/instances/{instance.id}"
    containers = []
    for container in template.containers:
        mounts: list[dict[str, Any]] = [
            {"type": "volume", "source": docker_name(instance, volume), "target": target}
            for volume, target in sorted(container.volumes.items())
        ]
        mounts += [
            {"type": "bind", "source": f"{instance_dir}/{folder}", "target": target, "read_only": True}
            for folder, target in sorted(container.files.items())
        ]
        published = (
            [f"{server.public_address}:{instance.port}:{container.port}"]
            if container.port is not None
            else []
        )
        containers.append(
            {
                "name": docker_name(instance, container.name),
                "alias": container.name,
                "image": resolve_image(version.images[container.image], mirror=settings.image_registry),
                "mounts": mounts,
                "env": dict(container.environment),
                "memory": f"{container.memory_mb}M",
                "cpus": container.cpu,
                "published_ports": published,
            }
        )
    return {
        "instance_id": instance.id,
        "instance_dir": instance_dir,
        "network": docker_name(instance),
        "labels": {LABEL_INSTANCE: instance.id, LABEL_TENANT: instance.tenant_id},
        "volumes": [docker_name(instance, v) for v in volume_names(template)],
        "containers": containers,
        "files": [{"src": f.target, "dest": f.target} for f in template.files],
        "health_url": f"http://{server.public_address}:{instance.port}{template.health.path}",
        "health_status": template.health.expect_status,
    }


PLAYBOOKS = {JobKind.DEPLOY: "deploy.yml", JobKind.UPDATE: "deploy.yml", JobKind.REMOVE: "remove.yml"}


def build_run_spec(
    settings: Settings, catalog: Catalog, instance: Instance, kind: JobKind, *, version: str | None = None
) -> RunSpec:
    """The run for one job; ``version`` is the one to deploy (an update's target), else the instance's."""
    server = instance.server
    if server is None or instance.port is None:
        raise ValueError("the instance has no server yet")
    template = catalog.get(instance.template)
    files: dict[str, str] = {}
    if kind in (JobKind.DEPLOY, JobKind.UPDATE):
        variables = _deploy_variables(settings, catalog, instance, server, version or instance.version)
        context = {
            "instance": {
                "id": instance.id,
                "name": instance.name,
                "url": instance_url(server, instance.port),
            },
            "params": instance.parameters,
        }
        files = render_files(template, context=context)
    else:
        variables = {
            "instance_id": instance.id,
            "instance_dir": f"{server.root_dir}/instances/{instance.id}",
            "label": f"{LABEL_INSTANCE}={instance.id}",
        }
    return RunSpec(
        playbook=PLAYBOOKS[kind],
        playbooks_dir=Path(settings.resolved_playbooks_dir),
        host=_host(server),
        variables=variables,
        files=files,
        ssh_private_key=_ssh_key(settings, server),
        timeout_seconds=template.job_timeout_seconds or settings.job_timeout_seconds,
        ssh_connect_timeout_seconds=settings.ssh_connect_timeout_seconds,
    )
