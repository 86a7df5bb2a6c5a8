"""An operator's smoke test of one template on a real server: deploy, health, backup steps, removal.

For templates whose images cannot be pulled where the tests run. Nothing is written to the database:
the instance exists only on the server, with an id of its own, and is removed at the end.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provisioner.catalog.model import Hook, Template
from provisioner.catalog.parameters import validate_parameters
from provisioner.catalog.secrets import generate_secrets
from provisioner.config import Settings
from provisioner.deployments.check import sample_parameters
from provisioner.deployments.plan import (
    Placement,
    deploy_files,
    deploy_variables,
    docker_name,
    host_spec,
    removal_variables,
)
from provisioner.health.check import check_health
from provisioner.health.probe import Health
from provisioner.models import Server
from provisioner.proxy import caddy
from provisioner.runner.adapter import run_playbook
from provisioner.runner.spec import RunnerEvent, RunSpec

Say = Callable[[str], None]


@dataclass
class StepResult:
    name: str
    passed: bool
    detail: str = ""


class PrintingSink:
    """Shows the operator each playbook step and every failure as it happens."""

    def __init__(self, say: Say) -> None:
        self._say = say

    def emit(self, event: RunnerEvent) -> None:
        if event.status in ("failed", "unreachable") or event.line.startswith("Step:"):
            self._say(f"    {event.line}")

    def should_cancel(self) -> bool:
        return False


def hook_steps(template: Template, hook: Hook | None, instance_id: str) -> list[dict[str, Any]]:
    if hook is None:
        return []
    return [
        {"container": docker_name(instance_id, step.container), "argv": step.run}
        for step in [*hook.before, *hook.after]
    ]


def smoke(settings: Settings, template: Template, server: Server, *, say: Say) -> list[StepResult]:
    instance_id = "smk_" + secrets.token_hex(8)
    placement = Placement(
        instance_id=instance_id,
        tenant_id="smoke",
        name="smoke",
        hostname=f"smoke-{instance_id[4:]}.{caddy.base_domain(settings, server)}",
        params=validate_parameters(template, sample_parameters(template)),
        secrets=generate_secrets(template),
        host_ports={p.name: 45000 + i for i, p in enumerate(template.host_ports)},
    )
    version = template.default_version
    results: list[StepResult] = []

    def run(name: str, playbook: str, variables: dict[str, Any], files: dict[str, str] | None = None) -> bool:
        say(f"{name} ...")
        spec = RunSpec(
            playbook=playbook,
            playbooks_dir=Path(settings.resolved_playbooks_dir),
            host=host_spec(server),
            variables=variables,
            files=files or {},
            ssh_private_key=settings.resolved_ssh_key_path.read_text()
            if server.connection == "ssh"
            else None,
            timeout_seconds=(
                template.timeouts["deploy"].job_seconds if "deploy" in template.timeouts else None
            )
            or settings.job_timeout_seconds,
            ssh_connect_timeout_seconds=settings.ssh_connect_timeout_seconds,
            mitogen=settings.ansible_mitogen,
        )
        outcome = run_playbook(spec, PrintingSink(say), work_root=settings.data_dir / "runs")
        results.append(StepResult(name, outcome.status == "successful", outcome.error or ""))
        return results[-1].passed

    try:
        deployed = run(
            "deploy",
            "deploy.yml",
            deploy_variables(settings, template, placement, server, version),
            deploy_files(settings, template, placement, server, version),
        )
        if deployed:
            url = caddy.instance_url(caddy.tls_mode(settings, server), placement.hostname)
            health = check_health(template.health, url=url, address=server.public_address, timeout=15)
            results.append(StepResult("health", health is Health.HEALTHY, f"{url} is {health.value}"))
            steps = hook_steps(template, template.hooks.backup, instance_id)
            if steps:
                run("backup steps", "hooks.yml", {"steps": steps})
    finally:
        run("remove", "remove.yml", removal_variables(settings, instance_id, server, template))
    return results
