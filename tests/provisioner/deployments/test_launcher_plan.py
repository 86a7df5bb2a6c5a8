"""What the engine hands a template's upstream launcher (Discourse) for each job kind."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from provisioner.catalog.loader import load_template
from provisioner.catalog.model import Launcher
from provisioner.config import Settings
from provisioner.deployments.check import SAMPLE_SERVER, sample_placement
from provisioner.deployments.plan import deploy_files, deploy_variables, removal_variables
from provisioner.jobs.states import JobKind

TEMPLATES = Settings().resolved_templates_dir
DISCOURSE = load_template(TEMPLATES / "discourse")
PLACEMENT = sample_placement(DISCOURSE, instance_id="ins_d", tenant_id="ten_d", subdomain="forum")
INSTANCE_DIR = "/srv/provisioner/instances/ins_d"


def test_a_deploy_hands_the_launcher_its_pinned_commit_definition_and_the_proxys_container_name() -> None:
    variables = deploy_variables(Settings(), DISCOURSE, PLACEMENT, SAMPLE_SERVER, "2026.7")
    assert variables["launcher"] == {
        "tasks": str((TEMPLATES / "discourse" / "tasks" / "launcher.yml").resolve()),
        "repository": "https://github.com/discourse/discourse_docker",
        "ref": "e071c2c8ebf8a93c1fba4e16fbb7168a2a9201bd",
        "dir": f"{INSTANCE_DIR}/discourse_docker",
        "definition": f"{INSTANCE_DIR}/app.yml",
        "container": "prv-ins_d-app",
        "rebuild": False,
    }
    assert variables["site"]["upstream"] == "prv-ins_d-app:80"
    assert variables["volumes"] == ["prv-ins_d-log", "prv-ins_d-shared"]


def test_the_definition_puts_the_container_on_the_instance_network_and_volumes_without_host_ports() -> None:
    definition = deploy_files(Settings(), DISCOURSE, PLACEMENT, SAMPLE_SERVER, "2026.7")["app.yml"]
    assert 'docker_args: "--network prv-ins_d --network-alias app' in definition
    assert "expose: []" in definition
    assert 'org.provisioner.instance: "ins_d"' in definition
    assert "host: prv-ins_d-shared" in definition


def test_an_update_rebuilds_and_a_removal_destroys_with_the_launcher() -> None:
    update = deploy_variables(Settings(), DISCOURSE, PLACEMENT, SAMPLE_SERVER, "2026.7", kind=JobKind.UPDATE)
    assert update["launcher"]["rebuild"] is True
    removal = removal_variables(Settings(), "ins_d", SAMPLE_SERVER, DISCOURSE)
    assert removal["launcher"]["container"] == "prv-ins_d-app"
    assert removal["launcher"]["dir"] == f"{INSTANCE_DIR}/discourse_docker"


def test_templates_without_a_launcher_start_their_containers_themselves() -> None:
    homepage = load_template(TEMPLATES / "homepage")
    placement = sample_placement(homepage, instance_id="ins_h", tenant_id="ten_h", subdomain="site")
    assert deploy_variables(Settings(), homepage, placement, SAMPLE_SERVER, "1.0")["launcher"] is None
    assert removal_variables(Settings(), "ins_h", SAMPLE_SERVER, homepage)["launcher"] is None


@pytest.mark.parametrize("repository", ["http://example.org/x", "git@example.org:x", "file://host/x"])
def test_a_launcher_comes_over_https_or_from_a_mirror_on_the_server(repository: str) -> None:
    with pytest.raises(ValidationError, match="repository"):
        Launcher(
            kind="discourse_docker",
            repository=repository,
            ref="0" * 40,
            playbook="tasks/launcher.yml",
            definition="app.yml",
        )
