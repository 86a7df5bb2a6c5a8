"""The deploy of one instance written as a compose file, for ``docker-compose config`` to validate.

Deploys use community.docker modules, not compose (Compose v2 is not in Debian 12); this file states
the same containers, networks, volumes, limits and ports, so compose's own validation checks them.
"""

from __future__ import annotations

from typing import Any


def compose_document(variables: dict[str, Any]) -> dict[str, Any]:
    network = variables["network"]
    services: dict[str, Any] = {}
    for container in variables["containers"]:
        service: dict[str, Any] = {
            "container_name": container["name"],
            "image": container["image"],
            "environment": container["env"],
            "volumes": [
                {k: v for k, v in mount.items() if k in ("type", "source", "target", "read_only")}
                for mount in container["mounts"]
            ],
            "mem_limit": container["memory"].lower(),
            "cpus": container["cpus"],
            "ports": container["published_ports"],
            "networks": {network: {"aliases": [container["alias"]]}},
            "labels": variables["labels"],
            "restart": "unless-stopped",
        }
        if container["command"]:
            service["command"] = container["command"]
        if container["env_file"]:
            service["env_file"] = [container["env_file"]]
        services[container["alias"]] = service
    return {
        "version": "2.4",
        "services": services,
        "networks": {network: {"name": network, "labels": variables["labels"]}},
        "volumes": {name: {"name": name, "labels": variables["labels"]} for name in variables["volumes"]},
    }
