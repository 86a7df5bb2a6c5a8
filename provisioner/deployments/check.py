"""``provisioner templates check``: every way a template folder can be wrong, found before a deploy.

Per template: the format (schema of template.yaml and of its parameters), rendering every version
with sample parameters, the resulting containers through ``docker-compose config``, and the
template's own playbooks. Once for all: the generic playbooks through ``ansible-playbook
--syntax-check`` and ansible-lint.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from provisioner.catalog.export_check import export_problems
from provisioner.catalog.loader import TemplateError, load_template, template_folders
from provisioner.catalog.model import Template
from provisioner.catalog.parameters import validate_parameters
from provisioner.catalog.positions import where
from provisioner.catalog.render import RenderError
from provisioner.catalog.secrets import generate_secrets
from provisioner.catalog.sharing import offered_modes, shared_mode
from provisioner.config import Settings
from provisioner.deployments.compose import compose_document
from provisioner.deployments.plan import Placement, deploy_files, deploy_variables
from provisioner.errors import InvalidInput
from provisioner.models import Server

SAMPLE_SERVER = Server(
    id="srv_sample",
    name="sample",
    address="192.0.2.1",
    public_address="192.0.2.1",
    root_dir="/srv/provisioner",
    connection="ssh",
)


@dataclass
class Report:
    problems: dict[str, list[str]] = field(default_factory=dict)
    checked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(self.problems.values())


def sample_value(schema: dict[str, Any]) -> Any:
    """A value that fits a parameter: its first example, its default, its first choice, or a plain one."""
    if schema.get("examples"):
        return schema["examples"][0]
    if "default" in schema:
        return schema["default"]
    if schema.get("enum"):
        return schema["enum"][0]
    plain: dict[str, Any] = {"integer": schema.get("minimum", 1), "boolean": False}
    return plain.get(
        schema.get("type", ""), "admin@example.org" if schema.get("format") == "email" else "sample"
    )


def sample_parameters(template: Template) -> dict[str, Any]:
    properties: dict[str, Any] = template.parameters.get("properties", {})
    return {name: sample_value(schema) for name, schema in properties.items()}


def sample_placement(
    template: Template, *, instance_id: str, tenant_id: str, subdomain: str, shared: bool = False
) -> Placement:
    """A placement as an approval makes it; ``shared``: the template's shared instance, deployed with
    the parameters its ``sharing.shared`` names."""
    params = dict(shared_mode(template.sharing, template.name).parameters) if shared else None
    return Placement(
        instance_id=instance_id,
        tenant_id=tenant_id,
        name="sample",
        hostname=f"{subdomain}.lab.example",
        params=validate_parameters(template, sample_parameters(template) if params is None else params),
        secrets=generate_secrets(template),
        host_ports={p.name: 40000 + i for i, p in enumerate(template.host_ports)},
        shared=shared,
    )


def check_template(folder: Path, settings: Settings) -> list[str]:
    try:
        template = load_template(folder)
    except TemplateError as exc:
        return [str(exc)]
    path = folder / "template.yaml"
    try:
        placement = sample_placement(
            template, instance_id="ins_sample", tenant_id="ten_sample", subdomain="x"
        )
    except InvalidInput as exc:
        return [f"{where(path, ['parameters'])}: sample parameters do not fit: {exc.errors}"]
    problems = [f"{where(path, ['exports'])}: {p}" for p in export_problems(template, template.exports)]
    placements = [placement]
    if "shared" in offered_modes(template.sharing):
        try:
            placements.append(
                sample_placement(
                    template, instance_id="ins_shared", tenant_id="ten_lab", subdomain="y", shared=True
                )
            )
        except InvalidInput as exc:
            location = where(path, ["sharing", "shared", "parameters"])
            return [f"{location}: sharing.shared.parameters do not fit the parameters: {exc.errors}"]
    for placement, version in [(p, v) for p in placements for v in template.versions]:
        try:
            files = deploy_files(settings, template, placement, SAMPLE_SERVER, version)
        except RenderError as exc:
            return [str(exc)]
        variables = deploy_variables(settings, template, placement, SAMPLE_SERVER, version)
        problems += _compose_config(template, variables, files)
    if template.launcher:
        tasks = folder / template.launcher.playbook
        problems += _syntax_check_tasks(tasks) + _lint(tasks)
    return problems


def _syntax_check_tasks(tasks: Path) -> list[str]:
    """Launcher tasks run inside deploy.yml: checked in a play that imports them the same way."""
    with tempfile.TemporaryDirectory(prefix="template-check-") as work:
        play = [{"name": "Check", "hosts": "all", "gather_facts": False, "tasks": [
            {"ansible.builtin.import_tasks": str(tasks.resolve())}
        ]}]  # fmt: skip
        wrapper = Path(work) / "launcher-check.yml"
        wrapper.write_text(yaml.safe_dump(play))
        return [line.replace(str(wrapper), str(tasks)) for line in _syntax_check(wrapper)]


def _compose_config(template: Template, variables: dict[str, Any], files: dict[str, str]) -> list[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        return [f"{template.folder}: docker-compose (Debian package docker-compose) is needed to check"]
    with tempfile.TemporaryDirectory(prefix="template-check-") as work:
        # The instance folder as it will be on the server, so env files are found and read.
        root = Path(work)
        for relative, text in files.items():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_text(text)
        local = {
            **variables,
            "containers": [_localized(c, variables["instance_dir"], root) for c in variables["containers"]],
        }
        (root / "docker-compose.yml").write_text(yaml.safe_dump(compose_document(local)))
        done = subprocess.run(
            [binary, "-f", str(root / "docker-compose.yml"), "config", "-q"],
            capture_output=True, text=True, check=False, cwd=root, timeout=60,
        )  # fmt: skip
    if done.returncode == 0:
        return []
    message = " ".join((done.stderr or done.stdout).split())
    index = next((i for i, c in enumerate(template.containers) if f"services.{c.name}" in message), None)
    location: list[str | int] = ["containers", index] if index is not None else ["containers"]
    return [f"{where(template.folder / 'template.yaml', location)}: compose config: {message}"]


def _localized(container: dict[str, Any], instance_dir: str, root: Path) -> dict[str, Any]:
    env_file = container["env_file"]
    return {**container, "env_file": env_file.replace(instance_dir, str(root), 1) if env_file else None}


def _ansible_tool(name: str) -> str:
    # The tools of this installation, also when its virtualenv is not activated.
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else name


def _syntax_check(playbook: Path) -> list[str]:
    done = subprocess.run(
        [_ansible_tool("ansible-playbook"), "-i", "localhost,", "--syntax-check", str(playbook)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    return (
        []
        if done.returncode == 0
        else [f"{playbook}: syntax check: {done.stderr.strip() or done.stdout.strip()}"]
    )


NO_LINT = (
    "ansible-lint is not installed: it comes with pip install 'provisioner[lint]' "
    "(or check without it: --no-lint)"
)


def _lint(target: Path) -> list[str]:
    tool = _ansible_tool("ansible-lint")
    if shutil.which(tool) is None:  # an extra since it is a tool for catalog authors
        return [NO_LINT]
    done = subprocess.run(
        [tool, "--offline", "--nocolor", "-q", "--parseable", str(target)],
        capture_output=True, text=True, check=False, timeout=300,
        cwd=target if target.is_dir() else target.parent,
    )  # fmt: skip
    if done.returncode == 0:
        return []
    lines = [line for line in done.stdout.splitlines() if line.strip()] or [done.stderr.strip()]
    return [f"ansible-lint: {line}" for line in lines]


def check_all(settings: Settings, *, only: str | None = None, lint: bool = True) -> Report:
    report = Report()
    for folder in template_folders(settings.resolved_templates_dir):
        if only and folder.name != only:
            continue
        report.problems[folder.name] = check_template(folder, settings)
        report.checked.append(folder.name)
    playbooks = settings.resolved_playbooks_dir
    shared = [p for name in sorted(p.name for p in playbooks.glob("*.yml")) for p in [playbooks / name]]
    report.problems["playbooks"] = [problem for p in shared for problem in _syntax_check(p)]
    if lint:
        report.problems["playbooks"] += _lint(playbooks)
    report.checked.append("playbooks")
    return report
