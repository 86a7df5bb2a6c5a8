"""The run for one space's own data: a backup of it into the association's repository, or its data put
back (into the space's place in the shared instance, or into the dedicated instance it moves to).

The service's export and import commands learn the space's address and the folder they write to or
read from inside their container; no password: the data carries its own accounts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from provisioner.backups.prune import retention_variables
from provisioner.backups.reported import usable_snapshot_id
from provisioner.backups.repository import restic_variables
from provisioner.catalog.model import Template
from provisioner.catalog.sharing import shared_mode
from provisioner.config import Settings
from provisioner.deployments.plan import docker_name, host_spec, ssh_key
from provisioner.models import BackupRepository, Instance, Space, SpaceBackup
from provisioner.runner.spec import RunSpec

# Where the commands keep the space's data inside their container while a run works on it.
CONTAINER_FOLDER = "/tmp/provisioner-space-data"  # noqa: S108 - inside the service's own container


def in_snapshot(space_id: str) -> str:
    """The one path of a space's snapshot, named by us alone."""
    return f"space-{space_id}"


def _facts(space: Space, action: Literal["export", "import"], into: Literal["space", "single"]) -> str:
    return json.dumps(
        {
            "action": action,
            "into": into,
            "folder": CONTAINER_FOLDER,
            "space": {
                "id": space.id,
                "name": space.name,
                "hostname": f"{space.subdomain}.{space.domain}",
                "url": space.url,
            },
        }
    )


def _spec(
    settings: Settings, instance: Instance, repository: BackupRepository, variables: dict[str, object]
) -> RunSpec:
    server = instance.server
    if server is None:
        raise ValueError(f"instance {instance.id} has no server")
    return RunSpec(
        playbook="space-data.yml",
        playbooks_dir=Path(settings.resolved_playbooks_dir),
        host=host_spec(server),
        variables={
            **variables,
            "restic": restic_variables(settings, repository, server),
            "folder": CONTAINER_FOLDER,
        },
        files={},
        ssh_private_key=ssh_key(settings, server),
        timeout_seconds=settings.job_timeout_seconds,
        idle_timeout_seconds=settings.idle_timeout_seconds,
        ssh_connect_timeout_seconds=settings.ssh_connect_timeout_seconds,
        mitogen=settings.ansible_mitogen,
    )


def space_backup_spec(
    settings: Settings, template: Template, *, space: Space, repository: BackupRepository, job_id: str
) -> RunSpec:
    shared = shared_mode(template.sharing, template.name)
    if not shared.data.separable or shared.data.export is None or space.instance is None:
        raise ValueError(f"the {template.name} service cannot back up one space alone")
    instance = space.instance
    assert instance.server is not None  # noqa: S101 - a running space's instance is placed
    return _spec(
        settings,
        instance,
        repository,
        {
            "action": "backup",
            "container": docker_name(instance.id, shared.commands.container),
            "export_argv": shared.data.export,
            "import_argv": [],
            "space_input": _facts(space, "export", "space"),
            "in_snapshot": in_snapshot(space.id),
            "work_dir": f"{instance.server.root_dir}/backup/space-{job_id}",
            "host_tag": space.id,
            "tag_options": ["--tag", space.id, "--tag", f"{template.name}-space"],
            # The keep rules of an instance's snapshots, for the space's own.
            **retention_variables(settings, repository, instance.server, space.id),
        },
    )


def space_restore_spec(
    settings: Settings,
    template: Template,
    *,
    space: Space,
    backup: SpaceBackup,
    into: Instance,
    job_id: str,
) -> RunSpec:
    """Put ``backup`` of ``space`` back: into the space's place in its shared instance (``into`` is that
    instance), or into a dedicated instance, whose tables then hold the space's."""
    shared = shared_mode(template.sharing, template.name)
    if not shared.data.separable or shared.data.import_ is None:
        raise ValueError(f"the {template.name} service cannot restore one space alone")
    if into.server is None:
        raise ValueError(f"instance {into.id} has no server")
    return _spec(
        settings,
        into,
        backup.repository,
        {
            "action": "restore",
            "container": docker_name(into.id, shared.commands.container),
            "export_argv": [],
            "import_argv": shared.data.import_,
            "space_input": _facts(space, "import", "single" if not into.shared else "space"),
            "in_snapshot": in_snapshot(space.id),
            "work_dir": f"{into.server.root_dir}/backup/space-{job_id}",
            "snapshot": usable_snapshot_id(backup.snapshot_id),
        },
    )
