"""Which versions an instance may move to: never backwards, and as far as the template's rule allows."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from provisioner.catalog.loader import TemplateError, load_template
from provisioner.catalog.model import Template
from provisioner.config import Settings

SHIPPED = Settings().resolved_templates_dir
IMAGES = {"web": "provisioner/homepage:1.0"}


def _homepage(tmp_path: Path, versions: list[str], **updates: object) -> Path:
    folder = tmp_path / "homepage"
    shutil.copytree(SHIPPED / "homepage", folder)
    path = folder / "template.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["versions"] = {v: {"images": IMAGES} for v in versions}
    raw["default_version"] = versions[0]
    raw["updates"] = updates
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return folder


def _load(tmp_path: Path, versions: list[str], **updates: object) -> Template:
    return load_template(_homepage(tmp_path, versions, **updates))


@pytest.mark.parametrize(
    ("path", "current", "expected"),
    [
        ("forward", "28.0.1", ["28.0.2", "29.0.1", "30.0.1"]),
        ("sequential", "28.0.1", ["28.0.2"]),
        ("major", "28.0.1", ["28.0.2", "29.0.1"]),
        ("major", "29.0.1", ["30.0.1"]),
        ("major", "30.0.1", []),
    ],
)
def test_update_targets_follow_the_declared_rule(
    tmp_path: Path, path: str, current: str, expected: list[str]
) -> None:
    template = _load(tmp_path, ["28.0.1", "28.0.2", "29.0.1", "30.0.1"], path=path)
    assert template.update_targets(current) == expected


def test_the_major_rule_needs_numbered_versions_in_order(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="versions that start with a number"):
        _load(tmp_path / "a", ["stable", "next"], path="major")
    with pytest.raises(TemplateError, match="oldest to newest major"):
        _load(tmp_path / "b", ["30", "29"], path="major")


def test_the_health_window_is_bounded_and_named_in_the_error(tmp_path: Path) -> None:
    template = _load(tmp_path / "a", ["1.0", "1.1"], health_window_seconds=45)
    assert template.updates.health_window_seconds == 45
    with pytest.raises(TemplateError, match=r"updates\.health_window_seconds"):
        _load(tmp_path / "b", ["1.0", "1.1"], health_window_seconds=1)


def test_nextcloud_declares_one_major_at_a_time() -> None:
    nextcloud = load_template(SHIPPED / "nextcloud")
    assert nextcloud.updates.path == "major"
    assert nextcloud.update_targets("33") == ["34"]
    assert nextcloud.update_targets("34") == []
