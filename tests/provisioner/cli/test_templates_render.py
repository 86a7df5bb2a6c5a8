"""``provisioner templates render`` as an operator runs it: what a deploy would place, and one-line
errors for input it cannot use."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from provisioner.config import Settings
from provisioner.deployments.check import SAMPLE_SERVER
from provisioner.deployments.preview import PREVIEW_ID, preview
from tests.support import factories


def _render(*args: str, registry: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVISIONER_")}
    if registry:
        env["PROVISIONER_IMAGE_REGISTRY"] = registry
    return subprocess.run(
        [sys.executable, "-m", "provisioner", "templates", "render", *args],
        env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def test_render_writes_every_file_and_the_containers_with_secrets_as_placeholders(tmp_path: Path) -> None:
    done = _render(
        "wordpress", "--version", "6.1-r2", "--params", '{"language": "en_US"}', "--out", str(tmp_path)
    )

    assert done.returncode == 0, done.stderr
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == [
        "containers.yaml",
        "instance/admin/admin.php",
        "instance/admin/export-wxr.php",
        "instance/admin/space-data.php",
        "instance/admin/space.php",
        "instance/config/config-default.php",
        "instance/db.env",
        "proxy/Caddyfile",
        f"proxy/sites/{PREVIEW_ID}.caddy",
    ]
    assert "MARIADB_PASSWORD=<secret:db_password>" in (tmp_path / "instance/db.env").read_text()
    assert "en_US" in (tmp_path / "instance/config/config-default.php").read_text()
    described = yaml.safe_load((tmp_path / "containers.yaml").read_text())
    web = next(c for c in described["containers"] if c["name"].endswith("-web"))
    assert web["image"] == "provisioner/wordpress:6.1-r2"
    assert web["limits"] == {"memory": "256M", "cpus": 0.5}
    assert {
        "type": "volume",
        "source": f"prv-{PREVIEW_ID}-content",
        "target": "/var/lib/wordpress/wp-content",
    } in web["mounts"]


def test_the_preview_is_the_deploys_own_plan() -> None:
    """Built by the deploy's functions: images through the lab's mirror, the sample server's folders."""
    wordpress = factories.CATALOG.get("wordpress")
    files = preview(Settings(image_registry="127.0.0.1:5000"), wordpress, version=None, parameters={})
    described = yaml.safe_load(files["containers.yaml"])
    assert [c["image"] for c in described["containers"]] == [
        "127.0.0.1:5000/provisioner/mariadb:10.11",
        "127.0.0.1:5000/provisioner/wordpress:6.1",
    ]
    assert described["volumes"] == [
        f"prv-{PREVIEW_ID}-content",
        f"prv-{PREVIEW_ID}-db",
        f"prv-{PREVIEW_ID}-wxr",
    ]
    assert described["instance_dir"] == f"{SAMPLE_SERVER.root_dir}/instances/{PREVIEW_ID}"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["nope"], "error: there is no service called 'nope' in the catalog"),
        (
            ["wordpress", "--version", "9.9"],
            "error: wordpress has no version '9.9'; its versions: 6.1, 6.1-r2",
        ),
        (
            ["wordpress", "--params", '{"colour": "red"}'],
            "error: the parameters do not fit the wordpress service: parameters.colour: this service has no",
        ),
        (["wordpress", "--params", "{language"], "error: --params is not JSON: "),
        (["wordpress", "--params", '["de_DE"]'], "error: --params must be a JSON object"),
    ],
)
def test_wrong_input_ends_with_one_line_naming_it(tmp_path: Path, args: list[str], error: str) -> None:
    done = _render(*args, "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert done.stderr.startswith(error), done.stderr
    assert done.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()
