"""Two tenants' instances of every template on one server share nothing: no network, volume, container
name, host port, file path or secret; only declared ports are published, and limits come along."""

from __future__ import annotations

import re

import pytest

from provisioner.catalog.loader import Catalog
from provisioner.catalog.model import Template
from provisioner.config import Settings
from provisioner.deployments.check import SAMPLE_SERVER, sample_placement
from provisioner.deployments.plan import Placement, deploy_files, deploy_variables

SETTINGS = Settings()
CATALOG = Catalog.from_dir(SETTINGS.resolved_templates_dir)


def _placement(template: Template, number: int) -> Placement:
    first = sample_placement(
        template, instance_id=f"ins_{number:016d}", tenant_id=f"ten_{number}", subdomain=f"sub{number}"
    )
    # Each instance gets its own host ports at approval; the sample numbers them from one base.
    ports = {name: port + 100 * number for name, port in first.host_ports.items()}
    return Placement(**{**first.__dict__, "host_ports": ports})


def _names(variables: dict[str, object], files: dict[str, str]) -> dict[str, set[str]]:
    containers = variables["containers"]
    assert isinstance(containers, list)
    return {
        "network": {str(variables["network"])},
        "volumes": set(map(str, variables["volumes"])),  # type: ignore[call-overload]
        "containers": {c["name"] for c in containers},
        "host ports": {p.rsplit(":", 1)[1] for c in containers for p in c["published_ports"]},
        "mount sources": {m["source"] for c in containers for m in c["mounts"]},
        "dir": {str(variables["instance_dir"])},
    }


@pytest.mark.parametrize("template", CATALOG.all(), ids=lambda t: t.name)
def test_two_tenants_on_one_server_share_nothing(template: Template) -> None:
    version = template.default_version
    seen = []
    for number in (1, 2):
        placement = _placement(template, number)
        variables = deploy_variables(SETTINGS, template, placement, SAMPLE_SERVER, version)
        files = deploy_files(SETTINGS, template, placement, SAMPLE_SERVER, version)
        seen.append((placement, variables, files, _names(variables, files)))
    (one, vars_one, files_one, names_one), (two, _, files_two, names_two) = seen
    for kind, values in names_one.items():
        assert not values & names_two[kind], f"{template.name}: both instances use the same {kind}"
    assert not set(one.secrets.values()) & set(two.secrets.values())
    for secret in two.secrets.values():
        assert all(secret not in text for text in files_one.values()), "a secret of one in the other's files"
    # Names and paths come from the instance id alone; nothing a tenant typed reaches them.
    for name in names_one["containers"] | names_one["volumes"] | names_one["network"]:
        assert re.fullmatch(rf"prv-{one.instance_id}(-[a-z0-9-]+)?", name), name
    # Only ports the template declares are published, and only on the server's address.
    declared = len([c for c in template.containers for _ in c.host_ports])
    published = [p for c in vars_one["containers"] for p in c["published_ports"]]
    assert len(published) == declared
    assert all(p.startswith(f"{SAMPLE_SERVER.public_address}:") for p in published)
    # Limits come from the template, for every container.
    for declared_container, planned in zip(template.containers, vars_one["containers"], strict=True):
        assert planned["memory"] == f"{declared_container.memory_mb}M"
        assert planned["cpus"] == declared_container.cpu
    # Each routes its own hostname to its own container.
    assert "sub1.lab.example" in files_one["_proxy/site.caddy"]
    assert f"prv-{one.instance_id}-" in files_one["_proxy/site.caddy"]
    assert f"prv-{two.instance_id}-" in files_two["_proxy/site.caddy"]


def test_files_with_secrets_are_marked_so_the_deploy_does_not_log_them() -> None:
    template = CATALOG.get("wordpress")
    placement = _placement(template, 1)
    variables = deploy_variables(SETTINGS, template, placement, SAMPLE_SERVER, template.default_version)
    sensitive = {f["dest"] for f in variables["files"] if f["sensitive"]}
    assert sensitive == {"db.env", "config/config-default.php", "admin/admin.php"}
    # Secrets travel as rendered files only, never as variables.
    assert all(secret not in repr(variables) for secret in placement.secrets.values())
