"""What a deploy of a template would place on a server, for an operator to read before any deploy.

Built by the same functions a deploy uses (``deploy_variables`` and ``deploy_files``), on a sample
server, so the preview cannot drift from what a deploy does. Generated secrets are replaced by
placeholders naming them: nothing secret is written.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from provisioner.catalog.model import Template
from provisioner.catalog.parameters import validate_parameters
from provisioner.config import Settings
from provisioner.deployments.check import SAMPLE_SERVER
from provisioner.deployments.plan import PROXY_FILES, Placement, deploy_files, deploy_variables
from provisioner.errors import InvalidInput

PREVIEW_ID = "ins_preview"


class PreviewError(Exception):
    """Input the preview cannot use; the message is one line naming what is wrong."""


def secret_placeholder(name: str) -> str:
    return f"<secret:{name}>"


def parse_parameters(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise PreviewError(f"--params is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise PreviewError("--params must be a JSON object of parameter names and values")
    return value


def preview(
    settings: Settings, template: Template, *, version: str | None, parameters: dict[str, Any]
) -> dict[str, str]:
    """Every file a deploy places (relative path -> text), plus ``containers.yaml`` describing the rest."""
    chosen = version or template.default_version
    if chosen not in template.versions:
        raise PreviewError(
            f"{template.name} has no version {chosen!r}; its versions: {', '.join(template.versions)}"
        )
    try:
        params = validate_parameters(template, parameters)
    except InvalidInput as exc:
        wrong = "; ".join(f"{e['field'].removeprefix('body.')}: {e['message']}" for e in exc.errors or [])
        raise PreviewError(f"{exc.detail}: {wrong}") from exc
    placement = Placement(
        instance_id=PREVIEW_ID,
        tenant_id="ten_preview",
        name=template.name,
        hostname=f"{template.name}.lab.example",
        params=params,
        secrets={name: secret_placeholder(name) for name in template.secrets},
        host_ports={p.name: 40000 + i for i, p in enumerate(template.host_ports)},
    )
    variables = deploy_variables(settings, template, placement, SAMPLE_SERVER, chosen)
    rendered = deploy_files(settings, template, placement, SAMPLE_SERVER, chosen)
    files = {
        f"instance/{path}": text for path, text in rendered.items() if not path.startswith(f"{PROXY_FILES}/")
    }
    files["proxy/Caddyfile"] = rendered[f"{PROXY_FILES}/Caddyfile"]
    files[f"proxy/sites/{variables['site']['file']}"] = rendered[f"{PROXY_FILES}/site.caddy"]
    files["containers.yaml"] = _describe(template, chosen, variables)
    return files


def _describe(template: Template, version: str, variables: dict[str, Any]) -> str:
    described = {
        "template": template.name,
        "version": version,
        "instance_dir": variables["instance_dir"],
        "network": variables["network"],
        "volumes": variables["volumes"],
        "containers": [
            {
                "name": c["name"],
                "image": c["image"],
                **({"command": c["command"]} if c["command"] else {}),
                "environment": c["env"],
                **({"env_file": c["env_file"]} if c["env_file"] else {}),
                "mounts": c["mounts"],
                "ports": c["published_ports"],
                "limits": {"memory": c["memory"], "cpus": c["cpus"]},
            }
            for c in variables["containers"]
        ],
        "files": [{"path": f["dest"], "mode": f["mode"], "group": f["group"]} for f in variables["files"]],
        "route": {"hostname": variables["site"]["hostname"], "upstream": variables["site"]["upstream"]},
        "health": {
            "path": template.health.path,
            "expect_status": template.health.expect_status,
            "start_seconds": template.health.start_seconds,
        },
        "steps_after_deploy": variables["after_steps"],
    }
    if variables["launcher"] is not None:
        launcher = variables["launcher"]
        described["launcher"] = {k: launcher[k] for k in ("repository", "ref", "dir", "definition")}
        described["containers_note"] = "the upstream launcher builds and starts the containers"
    return yaml.safe_dump(described, sort_keys=False, allow_unicode=True, width=110)
