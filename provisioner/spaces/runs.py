"""The run for one space's work inside its shared instance: the service's own admin command, with the
space's facts as JSON on its standard input, and the space's route in the server's proxy."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy.orm import object_session

from provisioner.catalog.model import Template
from provisioner.catalog.sharing import shared_mode
from provisioner.config import Settings
from provisioner.crypto import decrypt
from provisioner.deployments.backup_leftovers import removal_leftovers
from provisioner.deployments.plan import HEALTH_DELAY, PROXY_FILES, docker_name, host_spec, ssh_key
from provisioner.models import Instance, Space
from provisioner.proxy import caddy
from provisioner.runner.spec import RunSpec

Action = Literal["create", "remove", "change"]
# How long a new space has to answer at its own address once its route is in place.
SPACE_HEALTH_SECONDS = 60


@dataclass(frozen=True)
class Quota:
    members: int | None
    storage_mb: int | None


def space_facts(settings: Settings, space: Space, action: Action, quota: Quota | None = None) -> str:
    """What the service's admin command learns about the space, as one JSON document. Every value
    is ours: ids, the validated subdomain, the address made from it, a generated password; the quota
    is the space's own, or for a change the one it gets."""
    quota = quota or Quota(members=space.quota_members, storage_mb=space.quota_storage_mb)
    password = decrypt(settings, space.encrypted_admin_password) if space.encrypted_admin_password else ""
    return json.dumps(
        {
            "action": action,
            "space": {
                "id": space.id,
                "name": space.name,
                "hostname": f"{space.subdomain}.{space.domain}",
                "url": space.url,
                "admin_user": space.admin_user,
                "admin_password": password,
                "admin_email": f"{space.admin_user}@{space.subdomain}.{space.domain}",
                "quota": {"members": quota.members, "storage_mb": quota.storage_mb},
            },
        }
    )


def space_run_spec(
    settings: Settings,
    template: Template,
    *,
    space: Space,
    instance: Instance,
    action: Action,
    quota: Quota | None = None,
) -> RunSpec:
    shared = shared_mode(template.sharing, template.name)
    server = instance.server
    if server is None:
        raise ValueError("the shared instance has no server yet")
    mode = caddy.tls_mode(settings, server)
    hostname = f"{space.subdomain}.{space.domain}"
    site_src = f"{PROXY_FILES}/{space.id}.caddy"
    web = template.published_container
    upstream = f"{docker_name(instance.id, web.name)}:{web.port}"
    command = {"create": shared.commands.create, "remove": shared.commands.remove}.get(action)
    command = command or shared.commands.change
    if command is None:
        raise ValueError(f"the {template.name} service cannot change a space's limits")
    variables = {
        "action": action,
        "step": {"container": docker_name(instance.id, shared.commands.container), "argv": command},
        "space_input": space_facts(settings, space, action, quota),
        "proxy": caddy.proxy_variables(settings, server),
        "network": docker_name(instance.id),
        "site": {"src": site_src, "file": f"{space.id}.caddy", "hostname": hostname, "upstream": upstream},
        "health_argv": caddy.health_argv(mode, hostname=hostname, path=shared.health.path),
        "health_status": shared.health.expect_status,
        "health_retries": -(-SPACE_HEALTH_SECONDS // HEALTH_DELAY),
        "health_delay": HEALTH_DELAY,
        "backup_leftovers": [],
    }
    session = object_session(space)
    if action == "remove" and session is not None:
        variables["backup_leftovers"] = removal_leftovers(
            session, server=server, tenant_id=space.tenant_id, space_id=space.id
        )
    files = {site_src: caddy.site_block(mode, hostname=hostname, upstream=upstream, instance_id=instance.id)}
    return RunSpec(
        playbook="space.yml",
        playbooks_dir=Path(settings.resolved_playbooks_dir),
        host=host_spec(server),
        variables=variables,
        files=files,
        ssh_private_key=ssh_key(settings, server),
        timeout_seconds=settings.job_timeout_seconds,
        idle_timeout_seconds=settings.idle_timeout_seconds,
        ssh_connect_timeout_seconds=settings.ssh_connect_timeout_seconds,
        mitogen=settings.ansible_mitogen,
    )
