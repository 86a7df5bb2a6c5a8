"""Run specs for the backup, restore and drill-check playbooks of one instance."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from provisioner.backups.prune import retention_variables
from provisioner.backups.reported import backup_paths, paths_in_snapshot, usable_snapshot_id
from provisioner.backups.repository import restic_variables
from provisioner.catalog.model import Hook, Template, Timeouts
from provisioner.config import Settings
from provisioner.deployments.plan import (
    deploy_files,
    deploy_variables,
    docker_name,
    host_spec,
    placement_of,
    step_variables,
)
from provisioner.models import Backup, BackupRepository, Instance, Server
from provisioner.runner.spec import RunSpec

_KIND: dict[str, Literal["backup", "restore", "drill"]] = {
    "backup.yml": "backup",
    "restore.yml": "restore",
    "drill-check.yml": "drill",
}


# A database's load command reads the dump (the file named by DUMP) on its standard input.
LOAD_THROUGH_STDIN = ["sh", "-c", 'exec docker exec -i "$@" < "$DUMP"', "sh"]


def _server(instance: Instance) -> Server:
    if instance.server is None:
        raise ValueError(f"instance {instance.id} has no server")
    return instance.server


def _volumes(instance_id: str, hook: Hook, in_snapshot: dict[str, str] | None = None) -> list[dict[str, str]]:
    found = in_snapshot or {}
    return [
        {"name": name, "docker": docker_name(instance_id, name), "in_snapshot": found.get(name, "")}
        for name in hook.volumes
    ]


def _spec(
    settings: Settings,
    template: Template,
    server: Server,
    playbook: str,
    variables: dict[str, Any],
    *,
    files: dict[str, str] | None = None,
) -> RunSpec:
    limits = template.timeouts.get(_KIND[playbook]) or Timeouts()
    return RunSpec(
        playbook=playbook,
        playbooks_dir=Path(settings.resolved_playbooks_dir),
        host=host_spec(server),
        variables=variables,
        files=files or {},
        ssh_private_key=settings.resolved_ssh_key_path.read_text() if server.connection == "ssh" else None,
        timeout_seconds=limits.job_seconds or settings.job_timeout_seconds,
        idle_timeout_seconds=limits.idle_seconds or settings.idle_timeout_seconds,
        ssh_connect_timeout_seconds=settings.ssh_connect_timeout_seconds,
        mitogen=settings.ansible_mitogen,
    )


def _backup_paths(template: Template, instance_id: str, volumes: list[str]) -> list[str]:
    """What restic reads, relative to Docker's volumes folder, so the snapshot's paths are named by us alone.

    Of a database volume that a restore rebuilds from its dump (the restore hook's ``databases``) only
    the dump: a restore never copies that volume's files, and the database's own files, rewritten as it
    runs, would otherwise be read and chunked again at every backup.
    """
    restore = template.hooks.restore
    dumps = {d.volume: d.dump for d in restore.databases} if restore else {}
    return [
        path.lstrip("/") + (f"/{dumps[name]}" if name in dumps else "")
        for name, path in backup_paths(instance_id, volumes).items()
    ]


def backup_spec(
    settings: Settings, template: Template, instance: Instance, repository: BackupRepository
) -> RunSpec:
    hook = template.hooks.backup
    if hook is None or not hook.volumes:
        raise ValueError(f"the {template.name} template declares nothing to back up")
    server = _server(instance)
    return _spec(
        settings,
        template,
        server,
        "backup.yml",
        {
            "instance_id": instance.id,
            "restic": restic_variables(settings, repository, server),
            # An optional volume missing on the server (an instance deployed before the template
            # had it) is left out, with the steps that need it; the report names it.
            "volumes": [
                {**volume, "optional": volume["name"] in hook.optional}
                for volume in _volumes(instance.id, hook)
            ],
            "backup_paths": _backup_paths(template, instance.id, hook.volumes),
            "min_free_mb": settings.backup_min_free_mb,
            "before_steps": [
                {**variables, "needs": docker_name(instance.id, step.needs) if step.needs else None}
                for variables, step in zip(step_variables(instance.id, hook.before), hook.before, strict=True)
            ],
            "after_steps": step_variables(instance.id, hook.after),
            "tag_options": ["--tag", instance.id, "--tag", f"{template.name}-{instance.version}"],
            **retention_variables(settings, repository, server, instance.id),
        },
    )


def restore_spec(
    settings: Settings,
    template: Template,
    instance: Instance,
    backup: Backup,
    *,
    job_id: str,
    version: str | None = None,
) -> RunSpec:
    """Put ``backup`` (of ``instance`` or of another instance of its template) back into ``instance``.

    The snapshot id is checked again and where each volume lies in the snapshot is derived from the
    backed-up instance's id (``UntrustedReport`` otherwise): nothing a server printed reaches the
    command line or a path here.

    ``version`` is for a rolled-back update: the containers start again at that (old) version, and the
    template's steps before the restore are skipped, since they would run in the version that failed.
    Without it, the containers start again as they are deployed.
    """
    backed_up = template.hooks.backup.volumes if template.hooks.backup else []
    hook = template.hooks.restore or Hook(volumes=backed_up)
    if not (hook.volumes or hook.databases):
        raise ValueError(f"the {template.name} template declares nothing to restore")
    server = _server(instance)
    snapshot = usable_snapshot_id(backup.snapshot_id)
    databases = {d.volume: d for d in hook.databases}
    # Every volume the restore empties: the copied ones and the rebuilt databases.
    emptied = [*hook.volumes, *databases]
    in_snapshot = paths_in_snapshot(backup.instance_id, emptied, backup.paths)
    placement = placement_of(settings, instance)
    target = version or instance.version
    deployed = deploy_variables(settings, template, placement, server, target)
    containers: list[dict[str, Any]] = deployed["containers"]
    database_containers = {docker_name(instance.id, d.container) for d in hook.databases}
    return _spec(
        settings,
        template,
        server,
        "restore.yml",
        {
            "restic": restic_variables(settings, backup.repository, server),
            "snapshot": snapshot,
            "volumes": [
                {**volume, "copied": volume["name"] not in databases}
                for volume in _volumes(instance.id, Hook(volumes=emptied), in_snapshot)
            ],
            "databases": [
                {
                    "volume": d.volume,
                    "in_snapshot": in_snapshot[d.volume],
                    "dump": d.dump,
                    "container": docker_name(instance.id, d.container),
                    "ready": d.ready,
                    "load": d.load,
                    "load_argv": [*LOAD_THROUGH_STDIN, docker_name(instance.id, d.container), *d.load],
                }
                for d in hook.databases
            ],
            "containers": [c["name"] for c in containers],
            "start_first": [c for c in containers if c["name"] in database_containers],
            "start_then": [c for c in containers if c["name"] not in database_containers],
            **{key: deployed[key] for key in ("instance_dir", "files", "network", "labels", "launcher")},
            "min_free_mb": settings.backup_min_free_mb,
            "work_dir": f"{server.root_dir}/backup/restore-{job_id}",
            "before_steps": [] if version is not None else step_variables(instance.id, hook.before),
            "after_steps": step_variables(instance.id, hook.after),
        },
        files=deploy_files(settings, template, placement, server, target),
    )


def check_spec(
    settings: Settings,
    template: Template,
    instance: Instance,
    repository: BackupRepository,
    *,
    read_data: bool,
) -> RunSpec:
    """Verify the tenant's repository (``read_data``), or run the template's data checks on ``instance``."""
    server = _server(instance)
    hook = template.hooks.restore
    checks = [] if read_data or hook is None else hook.check
    return _spec(
        settings,
        template,
        server,
        "drill-check.yml",
        {
            "read_data": read_data,
            "restic": restic_variables(settings, repository, server),
            "checks": [
                {"container": docker_name(instance.id, c.container), "argv": c.run, "expect": c.expect}
                for c in checks
            ],
        },
    )
