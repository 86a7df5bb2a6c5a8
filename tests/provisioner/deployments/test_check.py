"""``templates check`` over the shipped catalog (real docker-compose, ansible-playbook, ansible-lint),
and over broken copies, whose messages must name the file and the line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from provisioner.config import Settings
from provisioner.deployments import check
from provisioner.deployments.check import check_all, check_template

SHIPPED = Settings().resolved_templates_dir


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path)


@pytest.fixture
def homepage_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "templates" / "homepage"
    shutil.copytree(SHIPPED / "homepage", folder)
    return folder


def _edit(folder: Path, change: dict[str, object]) -> None:
    path = folder / "template.yaml"
    raw = yaml.safe_load(path.read_text())
    raw.update(change)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


def test_every_shipped_template_and_playbook_passes(settings: Settings) -> None:
    if shutil.which("docker-compose") is None:
        pytest.fail("docker-compose (Debian package) is part of the test bed", pytrace=False)
    report = check_all(settings)
    assert report.ok, report.problems
    assert set(report.checked) >= {"homepage", "wordpress", "nextcloud", "jitsi", "discourse", "playbooks"}


def test_a_bad_schema_names_the_file_and_line(homepage_copy: Path, settings: Settings) -> None:
    raw = yaml.safe_load((homepage_copy / "template.yaml").read_text())
    raw["resources"]["memory_mb"] = "a lot"
    (homepage_copy / "template.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    [problem] = check_template(homepage_copy, settings)
    line = next(
        n for n, text in enumerate((homepage_copy / "template.yaml").read_text().splitlines(), 1)
        if "memory_mb: a lot" in text
    )  # fmt: skip
    assert f"homepage/template.yaml:{line}: resources.memory_mb:" in problem


def test_an_undefined_variable_names_the_file_and_line(homepage_copy: Path, settings: Settings) -> None:
    page = homepage_copy / "files" / "index.html.j2"
    page.write_text("<p>fine</p>\n<h1>{{ params.titel }}</h1>\n")
    [problem] = check_template(homepage_copy, settings)
    assert "homepage/files/index.html.j2:2: 'dict object' has no attribute 'titel'" in problem


def test_a_bad_compose_names_the_file_and_line(homepage_copy: Path, settings: Settings) -> None:
    raw = yaml.safe_load((homepage_copy / "template.yaml").read_text())
    # Two things mounted on one path: the model allows it, compose does not.
    raw["containers"][0]["volumes"]["other"] = "/var/www/site"
    (homepage_copy / "template.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    problems = check_template(homepage_copy, settings)
    assert problems
    assert all(
        "homepage/template.yaml:" in p and "compose config: Duplicate mount points" in p for p in problems
    )


def test_moving_image_tags_are_refused(homepage_copy: Path, settings: Settings) -> None:
    _edit(homepage_copy, {"versions": {"1.0": {"images": {"web": "provisioner/homepage:latest"}}}})
    [problem] = check_template(homepage_copy, settings)
    assert "homepage/template.yaml:" in problem
    assert "tag 'latest' moves" in problem


@pytest.mark.parametrize(
    "reference",
    [
        f"provisioner/homepage:1.0@sha256:{'a' * 64}",
        f"registry.lab.example:5000/provisioner/homepage@sha256:{'b' * 64}",
    ],
    ids=["tag-and-digest", "digest-only"],
)
def test_images_pinned_by_digest_pass(homepage_copy: Path, settings: Settings, reference: str) -> None:
    _edit(homepage_copy, {"versions": {"1.0": {"images": {"web": reference}}}, "default_version": "1.0"})
    assert check_template(homepage_copy, settings) == []


@pytest.mark.parametrize(
    "reference",
    [
        "provisioner/homepage@sha256:abc",
        "provisioner/homepage",
        f"provisioner/homepage:latest@sha256:{'c' * 64}",
    ],
    ids=["short-digest", "no-tag-no-digest", "moving-tag"],
)
def test_a_reference_neither_tagged_nor_pinned_is_refused(
    homepage_copy: Path, settings: Settings, reference: str
) -> None:
    _edit(homepage_copy, {"versions": {"1.0": {"images": {"web": reference}}}, "default_version": "1.0"})
    [problem] = check_template(homepage_copy, settings)
    assert "homepage/template.yaml:" in problem
    assert "needs a tag, a digest" in problem or "moves; pin a release" in problem


def test_without_ansible_lint_the_check_says_how_to_get_it(
    homepage_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(check, "_ansible_tool", lambda name: f"/nonexistent/{name}")
    assert check._lint(homepage_copy) == [check.NO_LINT]
