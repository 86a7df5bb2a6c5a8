"""How long a deploy waits for the service, and which template steps an update's deploy runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from provisioner.catalog.loader import load_template
from provisioner.config import Settings
from provisioner.deployments.check import SAMPLE_SERVER, sample_placement
from provisioner.deployments.plan import HEALTH_DELAY, deploy_variables
from provisioner.jobs.states import JobKind

TEMPLATES = Settings().resolved_templates_dir


def _wordpress(tmp_path: Path, **changes: object) -> Path:
    folder = tmp_path / "wordpress"
    shutil.copytree(TEMPLATES / "wordpress", folder, ignore=shutil.ignore_patterns("image"))
    path = folder / "template.yaml"
    raw = yaml.safe_load(path.read_text())
    raw.update(changes)
    path.write_text(yaml.safe_dump(raw))
    return folder


def _variables(folder: Path, kind: JobKind = JobKind.DEPLOY) -> dict[str, object]:
    template = load_template(folder)
    placement = sample_placement(template, instance_id="ins_w", tenant_id="ten_w", subdomain="blog")
    return deploy_variables(Settings(), template, placement, SAMPLE_SERVER, "6.1", kind=kind)


def test_a_first_deploy_waits_as_long_as_the_template_says_its_first_start_takes(tmp_path: Path) -> None:
    raw = yaml.safe_load((TEMPLATES / "wordpress" / "template.yaml").read_text())
    slow = _wordpress(tmp_path, health={**raw["health"], "start_seconds": 900})
    assert _variables(slow)["health_retries"] == 900 // HEALTH_DELAY
    # Without a word from the template, two minutes.
    assert _variables(TEMPLATES / "wordpress")["health_retries"] == 120 // HEALTH_DELAY


def test_an_update_runs_the_templates_update_steps_before_those_of_every_deploy(tmp_path: Path) -> None:
    migrate = {"container": "web", "run": ["php", "/usr/local/bin/migrate"]}
    raw = yaml.safe_load((TEMPLATES / "wordpress" / "template.yaml").read_text())
    folder = _wordpress(tmp_path, hooks={**raw["hooks"], "update": {"after": [migrate]}})
    install = {"container": "prv-ins_w-web", "argv": ["php", "/etc/provisioner/admin.php", "install"]}
    migrated = {"container": "prv-ins_w-web", "argv": ["php", "/usr/local/bin/migrate"]}
    assert _variables(folder, JobKind.UPDATE)["after_steps"] == [migrated, install]
    # A plain deploy (a rollback's old version among them) never runs them.
    assert _variables(folder, JobKind.DEPLOY)["after_steps"] == [install]
