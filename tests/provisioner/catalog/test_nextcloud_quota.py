"""Nextcloud's default quota for new accounts: a schema-checked integer that reaches occ as file content."""

from __future__ import annotations

from dataclasses import replace

import pytest

from provisioner.catalog.loader import load_template
from provisioner.catalog.parameters import validate_parameters
from provisioner.config import Settings
from provisioner.deployments.check import SAMPLE_SERVER, sample_placement
from provisioner.deployments.plan import deploy_files, deploy_variables
from provisioner.errors import InvalidInput

NEXTCLOUD = load_template(Settings().resolved_templates_dir / "nextcloud")


def _rendered(params: dict[str, object]) -> tuple[dict[str, str], dict[str, object]]:
    settings = Settings()
    placement = sample_placement(NEXTCLOUD, instance_id="ins_q", tenant_id="ten_q", subdomain="cloud")
    placement = replace(placement, params=validate_parameters(NEXTCLOUD, params))
    files = deploy_files(settings, NEXTCLOUD, placement, SAMPLE_SERVER, "29")
    return files, deploy_variables(settings, NEXTCLOUD, placement, SAMPLE_SERVER, "29")


def test_the_chosen_quota_is_rendered_into_a_file_the_deploy_step_reads() -> None:
    files, variables = _rendered({"default_quota_gb": 250})
    assert files["config/default_quota"].strip() == "250 GB"
    app = next(c for c in variables["containers"] if c["alias"] == "app")  # type: ignore[attr-defined]
    assert {
        "type": "bind",
        "source": "/srv/provisioner/instances/ins_q/config/default_quota",
        "target": "/etc/provisioner/default_quota",
        "read_only": True,
    } in app["mounts"]
    [step] = variables["after_steps"]  # type: ignore[misc]
    assert step["container"] == "prv-ins_q-app"
    # The value is read from the file at run time; the command line is the same for every tenant.
    assert "250" not in " ".join(step["argv"])
    read = 'config:app:set files default_quota --value "$(cat /etc/provisioner/default_quota)"'
    assert read in step["argv"][-1]


def test_without_a_choice_new_accounts_get_the_default() -> None:
    files, _ = _rendered({})
    assert files["config/default_quota"].strip() == "5 GB"


@pytest.mark.parametrize("value", [0, 1001, "5; rm -rf /", 2.5, True])
def test_anything_but_an_integer_from_1_to_1000_is_refused_naming_the_field(value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_parameters(NEXTCLOUD, {"default_quota_gb": value})
    assert [e["field"] for e in caught.value.errors or []] == ["body.parameters.default_quota_gb"]
