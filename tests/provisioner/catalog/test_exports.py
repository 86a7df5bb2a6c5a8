"""``exports:`` in template.yaml: every template says how each part of its data leaves, and ``templates
check`` finds a part that reads nothing the backup keeps, or a backed-up volume nobody decided about."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from provisioner.catalog.export_check import export_problems
from provisioner.catalog.loader import TemplateError, load_template
from provisioner.config import Settings
from provisioner.deployments.check import check_template

SHIPPED = Settings().resolved_templates_dir
WORDS = {"de": "Teil", "en": "part"}


@pytest.fixture
def wordpress(tmp_path: Path) -> Path:
    folder = tmp_path / "wordpress"
    shutil.copytree(SHIPPED / "wordpress", folder, ignore=shutil.ignore_patterns("image"))
    return folder


def _exports(folder: Path, exports: dict[str, Any] | None) -> list[str]:
    path = folder / "template.yaml"
    raw = yaml.safe_load(path.read_text())
    if exports is None:
        raw.pop("exports")
    else:
        raw["exports"] = exports
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    template = load_template(folder)
    return export_problems(template, template.exports)


def _part(**fields: Any) -> dict[str, Any]:
    return {"title": WORDS, "restore": WORDS, **fields}


DATABASE = _part(name="database", kind="sql", volume="db", path="backup.sql", dialect="mariadb")
CONTENT = _part(name="content", kind="files", volume="content")
POSTS = _part(name="posts", kind="file", volume="wxr", path="wordpress.xml")


@pytest.mark.parametrize("name", sorted(p.name for p in SHIPPED.iterdir() if (p / "template.yaml").is_file()))
def test_every_shipped_template_declares_its_exports_soundly(name: str) -> None:
    template = load_template(SHIPPED / name)
    assert template.exports is not None
    assert export_problems(template, template.exports) == []


def test_the_shipped_wordpress_exports_its_dump_wp_content_and_its_wxr() -> None:
    template = load_template(SHIPPED / "wordpress")
    assert template.exports is not None
    assert [(p.name, p.kind, p.volume, p.path) for p in template.exports.parts] == [
        ("database", "sql", "db", "backup.sql"),
        ("content", "files", "content", ""),
        ("posts", "file", "wxr", "wordpress.xml"),
    ]
    # The WXR names every author's address: never in a folder the web server serves.
    [web] = [c for c in template.containers if c.name == "web"]
    assert web.volumes["wxr"] == "/var/lib/wordpress-export"
    served = ("/usr/share/wordpress", "/var/lib/wordpress/wp-content")
    assert not web.volumes["wxr"].startswith(served)


def test_the_shipped_mattermost_exports_its_bulk_export_apart_from_the_files() -> None:
    exports = load_template(SHIPPED / "mattermost").exports
    assert exports is not None
    parts = {p.name: p for p in exports.parts}
    assert (parts["bulk"].kind, parts["bulk"].volume, parts["bulk"].path) == (
        "file",
        "data",
        "bulk-export/export.jsonl",
    )
    assert parts["files"].exclude == ["bulk-export"]


@pytest.mark.parametrize(
    ("exports", "problem"),
    [
        (None, "exports: missing"),
        ({"parts": [CONTENT]}, "the backed-up volume 'db' is neither exported nor omitted"),
        ({"parts": [DATABASE, CONTENT, _part(name="more", kind="files", volume="cache")]},
         "part 'more': 'cache' is not a volume the backup keeps"),
        ({"parts": [DATABASE, CONTENT, CONTENT]}, "part 'content' is declared twice"),
        ({"parts": [{**DATABASE, "dialect": None}, CONTENT]}, "an sql part names its dialect"),
        ({"parts": [{**DATABASE, "path": "other.sql"}, CONTENT]},
         "the backup's dump of 'db' is 'backup.sql', not 'other.sql'"),
        ({"parts": [DATABASE, {**CONTENT, "dialect": "mariadb"}]}, "only an sql part has a dialect"),
        ({"parts": [DATABASE, _part(name="file", kind="file", volume="content")]},
         "a file part names its file"),
        ({"parts": [DATABASE, {**CONTENT, "name": "configuration"}]},
         "'configuration' is the name of the part"),
        ({"parts": [DATABASE, CONTENT], "omitted": {"content": "why"}},
         "'content' is exported by a part too"),
        ({"parts": [DATABASE, CONTENT], "omitted": {"logs": "why"}},
         "'logs' is not a volume the backup keeps"),
    ],
)  # fmt: skip
def test_a_wrong_declaration_is_named(wordpress: Path, exports: dict[str, Any] | None, problem: str) -> None:
    problems = _exports(wordpress, exports)
    assert any(problem in p for p in problems), problems


def test_an_omitted_volume_with_its_reason_is_accepted(wordpress: Path) -> None:
    assert _exports(wordpress, {"parts": [DATABASE, POSTS], "omitted": {"content": "only caches"}}) == []


@pytest.mark.parametrize("path", ["/etc/passwd", "../other", "a/../../b", "backups/*.tar.gz"])
def test_a_part_outside_its_volume_is_refused_when_loading(wordpress: Path, path: str) -> None:
    with pytest.raises(TemplateError, match="must be a path inside the volume"):
        _exports(wordpress, {"parts": [DATABASE, {**CONTENT, "path": path}]})


def test_templates_check_reports_the_problem_with_its_line(wordpress: Path) -> None:
    _exports(wordpress, {"parts": [CONTENT]})
    problems = check_template(wordpress, Settings())
    assert any(
        p.startswith(f"{wordpress / 'template.yaml'}:") and "'db' is neither exported" in p for p in problems
    )


def test_the_shipped_wordpress_backs_up_its_wxr_only_where_the_site_has_its_volume() -> None:
    backup = load_template(SHIPPED / "wordpress").hooks.backup
    assert backup is not None
    assert backup.optional == ["wxr"]
    assert [s.needs for s in backup.before] == [None, "wxr"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"optional": ["wxr", "logs"]}, r"optional names \['logs'\], which hooks.backup.volumes does not"),
        ({"optional": []}, r"a step needs \['wxr'\], which hooks.backup.optional does not name"),
        ({"optional": ["wxr", "content"]}, r"\['content'\] cannot be restored, not every backup has it"),
        ({"optional": ["wxr", "db"]}, r"\['db'\] cannot be restored, not every backup has it"),
    ],
)
def test_an_optional_volume_breaking_its_rules_is_refused(
    wordpress: Path, change: dict[str, Any], message: str
) -> None:
    path = wordpress / "template.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["hooks"]["backup"] |= change
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    with pytest.raises(TemplateError, match=message):
        load_template(wordpress)


def test_only_the_backup_has_optional_volumes(wordpress: Path) -> None:
    path = wordpress / "template.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["hooks"]["restore"]["optional"] = ["content"]
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    with pytest.raises(TemplateError, match=r"only hooks\.backup has optional volumes"):
        load_template(wordpress)
