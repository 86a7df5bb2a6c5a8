"""Text an association types stays text: every payload of the corpus, in every string parameter of every
template in the catalog and in the names of associations and instances, is either refused with 422
naming the field, or stored as sent and rendered into the deployment's files where it appears
literally (never evaluated by Jinja, Ansible, a shell or a YAML loader). Nothing a tenant types
reaches the inventory Ansible connects with.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import yaml

from provisioner.catalog.loader import Catalog
from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.deployments.check import SAMPLE_SERVER, sample_placement, sample_value
from provisioner.deployments.plan import build_run_spec, deploy_files, deploy_variables
from provisioner.jobs.states import JobKind
from provisioner.models import Instance
from provisioner.runner.adapter import _inventory
from provisioner.servers.sshkey import ensure_key
from tests.api.conftest import Api
from tests.support.payloads import CORPUS, WORST

SETTINGS = Settings()
CATALOG = Catalog.from_dir(SETTINGS.resolved_templates_dir)


def _scalars(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (*_scalars(k), *_scalars(v))]
    if isinstance(node, list):
        return [s for item in node for s in _scalars(item)]
    return [node] if isinstance(node, str) else []


def appears_literally(target: str, text: str, payload: str) -> bool:
    """Whether the file, read as what it is, holds the payload exactly (not evaluated, not re-parsed)."""
    if target.endswith((".yml", ".yaml")):
        return any(payload in s for s in _scalars(yaml.safe_load(text)))
    if target.endswith((".html", ".htm")):
        return payload in html.unescape(text)
    return payload in text


def _string_parameters(api: Api) -> list[tuple[dict[str, Any], str]]:
    catalog = api.client.get("/api/v1/catalog", headers=api.operator).json()["items"]
    return [
        (template, name)
        for template in catalog
        for name, schema in template["parameters"].get("properties", {}).items()
        if schema.get("type") == "string" and "enum" not in schema
    ]


def _refused(response: Any, field: str) -> bool:
    return response.status_code == 422 and field in {e["field"] for e in response.json().get("errors", [])}


def test_template_parameters_refused_or_rendered_literally(api: Api) -> None:
    parameters = _string_parameters(api)
    assert parameters, "the catalog has free-text parameters to try"
    admins: dict[int, dict[str, str]] = {}
    tries = enumerate((payload, *parameter) for payload in CORPUS.values() for parameter in parameters)
    for number, (payload, template, name) in tries:
        # A new association for every few instances, to stay within its quota.
        if number // 5 not in admins:
            admins[number // 5] = api.tenant(f"verein-{number // 5}")[1]
        admin = admins[number // 5]
        schema = template["parameters"]
        values = {key: sample_value(spec) for key, spec in schema["properties"].items()} | {name: payload}
        body = {"template": template["name"], "name": f"i{number}", "parameters": values}
        response = api.client.post("/api/v1/instances", json=body, headers=admin)
        where = f"{template['name']}.{name} = {payload[:40]!r}"
        if response.status_code != 201:
            assert _refused(response, f"body.parameters.{name}"), f"{where}: {response.text}"
            continue
        stored = response.json()["parameters"]
        assert stored[name] == payload, where
        found = CATALOG.get(template["name"])
        sample = sample_placement(found, instance_id="ins_sample", tenant_id="ten_sample", subdomain="x")
        placement = type(sample)(**{**sample.__dict__, "params": stored})
        version = found.default_version
        files = deploy_files(SETTINGS, found, placement, SAMPLE_SERVER, version)
        variables = deploy_variables(SETTINGS, found, placement, SAMPLE_SERVER, version)
        assert any(appears_literally(t, text, payload) for t, text in files.items()), (
            f"{where}: not literally in any rendered file"
        )
        assert payload not in repr(variables), f"{where}: tenant text in the runner's variables"


def test_names_refused_or_kept_as_sent(api: Api) -> None:
    _, admin = api.tenant("verein-a")
    for round_, payload in enumerate(CORPUS.values()):
        _names_refused_or_kept_as_sent(api, admin, payload, round_)


def _names_refused_or_kept_as_sent(api: Api, admin: dict[str, str], payload: str, round_: int) -> None:
    for number, field in enumerate(("slug", "name", "contact_email")):
        body = {"slug": f"verein-{round_}-{number}", "name": "x", "contact_email": "a@b.org", field: payload}
        made = api.client.post("/api/v1/tenants", json=body, headers=api.operator)
        if made.status_code == 201:
            shown = api.client.get(f"/api/v1/tenants/{made.json()['id']}", headers=api.operator)
            assert shown.json()[field] == payload, field
        else:
            assert _refused(made, f"body.{field}"), f"{field}: {made.text}"
    for field in ("name", "subdomain"):
        body = {"template": "homepage", "name": "site", "parameters": {"title": "x"}, field: payload}
        response = api.client.post("/api/v1/instances", json=body, headers=admin)
        assert _refused(response, f"body.{field}"), f"{field}: {response.text}"


def test_the_inventory_never_holds_tenant_text(api: Api, tmp_path: Path) -> None:
    """The run spec of a deploy: tenant text only in rendered files, never in the host Ansible reaches."""
    _, admin = api.tenant("verein-a")
    server_id = api.server()
    body = {"template": "homepage", "name": "site", "parameters": {"title": WORST}}
    instance_id = api.client.post("/api/v1/instances", json=body, headers=admin).json()["id"]
    approved = api.client.post(
        f"/api/v1/instances/{instance_id}/approve", json={"server": server_id}, headers=api.operator
    )
    assert approved.status_code == 202, approved.text
    settings = api.client.app.state.settings  # type: ignore[attr-defined]
    ensure_key(settings.resolved_ssh_key_path)
    with session_factory(api.db_url)() as session:
        instance = session.get_one(Instance, instance_id)
        spec = build_run_spec(settings, CATALOG, instance, JobKind.DEPLOY)
    inventory = _inventory(spec.host, tmp_path, spec.ssh_connect_timeout_seconds)
    for part in (WORST, "lookup('pipe','id')", "$(id)", "`id`", "../../etc/passwd"):
        assert part not in repr(spec.host), part
        assert part not in repr(inventory), part
        assert part not in repr(spec.variables), part
    assert any(appears_literally(t, text, WORST) for t, text in spec.files.items())


def test_nul_characters_in_paths_and_queries_answer_as_problems(api: Api) -> None:
    """PostgreSQL cannot hold a NUL character: looking one up is the request's fault, never a 500."""
    _, admin = api.tenant("verein-a")
    for url in ("/api/v1/instances/ins_%00", "/api/v1/jobs?instance=ins_%00", "/api/v1/tenants/ten_%00"):
        response = api.client.get(url, headers=admin)
        assert response.status_code in (200, 404, 422), f"{url}: {response.status_code} {response.text}"
        if response.status_code != 200:
            assert response.headers["content-type"] == "application/problem+json"
        else:
            assert response.json()["items"] == []
