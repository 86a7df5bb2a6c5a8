from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from provisioner.catalog.loader import Catalog, TemplateError, load_template
from provisioner.catalog.render import render_files
from provisioner.config import Settings
from provisioner.deployments.check import SAMPLE_SERVER, sample_placement
from provisioner.deployments.plan import lab_mail, render_context
from provisioner.errors import NotFound
from provisioner.proxy.caddy import TlsMode

SHIPPED = Settings().resolved_templates_dir


@pytest.fixture
def homepage_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "homepage"
    shutil.copytree(SHIPPED / "homepage", folder)
    return folder


def _edit(folder: Path, **changes: object) -> None:
    path = folder / "template.yaml"
    raw = yaml.safe_load(path.read_text())
    raw.update(changes)
    path.write_text(yaml.safe_dump(raw))


def test_every_shipped_template_loads_and_renders_with_sample_parameters() -> None:
    catalog = Catalog.from_dir(SHIPPED)
    assert {t.name for t in catalog.all()} >= {
        "homepage", "wordpress", "nextcloud", "jitsi", "discourse", "mattermost", "hedgedoc"
    }  # fmt: skip
    for template in catalog.all():
        placement = sample_placement(template, instance_id="ins_x", tenant_id="ten_x", subdomain="x")
        context = render_context(
            template,
            placement,
            SAMPLE_SERVER,
            TlsMode.INTERNAL,
            template.default_version,
            mail=lab_mail(Settings()),
        )
        assert all(text.strip() for text in render_files(template, context=context).values())


def test_an_unknown_service_is_a_clear_404() -> None:
    with pytest.raises(NotFound, match="no service called 'nope'"):
        Catalog.from_dir(SHIPPED).get("nope")


def test_a_bad_parameter_schema_names_the_file(homepage_copy: Path) -> None:
    _edit(
        homepage_copy,
        parameters={"type": "object", "additionalProperties": False, "properties": {"x": {"type": 5}}},
    )
    with pytest.raises(
        TemplateError, match=r"homepage/template.yaml:\d+: parameters is no valid JSON Schema"
    ):
        load_template(homepage_copy)


def test_an_open_parameter_schema_is_refused(homepage_copy: Path) -> None:
    _edit(homepage_copy, parameters={"type": "object", "properties": {}})
    with pytest.raises(TemplateError, match="additionalProperties: false"):
        load_template(homepage_copy)


def test_a_version_without_an_image_is_refused(homepage_copy: Path) -> None:
    _edit(homepage_copy, versions={"1.0": {"images": {}}})
    with pytest.raises(TemplateError, match=re.escape("version '1.0' has no image 'web'")):
        load_template(homepage_copy)


def test_a_missing_rendered_file_is_named(homepage_copy: Path) -> None:
    (homepage_copy / "files" / "index.html.j2").unlink()
    with pytest.raises(TemplateError, match=re.escape("file 'files/index.html.j2' does not exist")):
        load_template(homepage_copy)


def test_a_file_target_outside_the_instance_folder_is_refused(homepage_copy: Path) -> None:
    _edit(homepage_copy, files=[{"source": "files/index.html.j2", "target": "../../etc/passwd"}])
    with pytest.raises(TemplateError, match="relative path inside the instance folder"):
        load_template(homepage_copy)


def test_a_reset_credentials_hook_needs_a_shown_secret(homepage_copy: Path) -> None:
    hook = {"after": [{"container": "web", "run": ["true"]}]}
    _edit(homepage_copy, hooks={"reset_credentials": hook})
    with pytest.raises(TemplateError, match="needs a secret with show: true"):
        load_template(homepage_copy)
    _edit(homepage_copy, secrets={"admin_password": {"show": True}})
    assert load_template(homepage_copy).hooks.reset_credentials is not None


def test_deploy_and_reset_hooks_have_only_after_steps(homepage_copy: Path) -> None:
    _edit(homepage_copy, hooks={"deploy": {"before": [{"container": "web", "run": ["true"]}]}})
    with pytest.raises(TemplateError, match=r"hooks\.deploy has only .after. steps"):
        load_template(homepage_copy)
