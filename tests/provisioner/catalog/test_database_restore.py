"""The contract of ``hooks.restore.databases``: a database comes back from its dump only, into an empty
database, and the load stops at its first error."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from provisioner.catalog.loader import TemplateError, load_template
from provisioner.config import Settings

SHIPPED = Settings().resolved_templates_dir
MARIADB = {
    "container": "db",
    "volume": "db",
    "dump": "backup.sql",
    "ready": ["mariadb-admin", "ping"],
    "load": ["mariadb", "wordpress"],
}


@pytest.fixture
def wordpress(tmp_path: Path) -> Path:
    folder = tmp_path / "wordpress"
    shutil.copytree(SHIPPED / "wordpress", folder, ignore=shutil.ignore_patterns("image"))
    return folder


def _restore(folder: Path, **hook: Any) -> None:
    path = folder / "template.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["hooks"]["restore"] = hook
    path.write_text(yaml.safe_dump(raw))


def test_the_shipped_wordpress_rebuilds_its_database_from_the_dump() -> None:
    restore = load_template(SHIPPED / "wordpress").hooks.restore
    assert restore is not None
    assert restore.volumes == ["content"]
    assert [(d.container, d.volume, d.dump) for d in restore.databases] == [("db", "db", "backup.sql")]


@pytest.mark.parametrize(
    ("load", "message"),
    [
        (["psql", "-U", "app", "-d", "app"], "needs -v ON_ERROR_STOP=1"),
        (["mariadb", "--force", "wordpress"], "must not go on after errors"),
    ],
)
def test_a_load_that_goes_on_after_errors_is_refused(wordpress: Path, load: list[str], message: str) -> None:
    _restore(wordpress, volumes=["content"], databases=[{**MARIADB, "load": load}])
    with pytest.raises(TemplateError, match=message):
        load_template(wordpress)


def test_a_psql_load_that_stops_at_the_first_error_is_accepted(wordpress: Path) -> None:
    load = ["psql", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-U", "app", "-d", "app"]
    _restore(wordpress, volumes=["content"], databases=[{**MARIADB, "load": load}])
    assert load_template(wordpress).hooks.restore is not None


@pytest.mark.parametrize(
    ("hook", "message"),
    [
        # The live files copied back and the dump loaded on top: exactly what the contract prevents.
        ({"volumes": ["db", "content"], "databases": [MARIADB]}, "cannot be copied back too"),
        (
            {"volumes": ["content"], "databases": [{**MARIADB, "container": "web"}]},
            "'web' does not mount 'db'",
        ),
        ({"volumes": ["content"], "databases": [{**MARIADB, "dump": "../backup.sql"}]}, "relative path"),
    ],
)
def test_a_database_restore_that_breaks_the_contract_is_refused(
    wordpress: Path, hook: dict[str, Any], message: str
) -> None:
    _restore(wordpress, **hook)
    with pytest.raises(TemplateError, match=message):
        load_template(wordpress)


def test_a_database_the_backup_does_not_hold_cannot_be_restored(wordpress: Path) -> None:
    path = wordpress / "template.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["hooks"]["backup"]["volumes"] = ["content", "wxr"]
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(TemplateError, match=r"'db' is not in hooks\.backup\.volumes"):
        load_template(wordpress)


def test_only_the_restore_hook_rebuilds_databases(wordpress: Path) -> None:
    path = wordpress / "template.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["hooks"]["backup"]["databases"] = [MARIADB]
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(TemplateError, match=r"hooks\.backup cannot rebuild databases"):
        load_template(wordpress)
