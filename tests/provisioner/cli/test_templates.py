"""The ``provisioner templates check`` command as an operator runs it: exit status and report."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from provisioner.config import Settings

SHIPPED = Settings().resolved_templates_dir


def _check(templates_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVISIONER_")}
    env["PROVISIONER_TEMPLATES_DIR"] = str(templates_dir)
    return subprocess.run(
        [sys.executable, "-m", "provisioner", "templates", "check", "--no-lint", *args],
        env=env, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip


def test_a_good_template_passes_and_a_broken_one_fails_naming_file_and_line(tmp_path: Path) -> None:
    shutil.copytree(SHIPPED / "homepage", tmp_path / "homepage")
    shutil.copytree(SHIPPED / "homepage", tmp_path / "broken")
    template = tmp_path / "broken" / "template.yaml"
    template.write_text(template.read_text().replace("name: homepage", "name: broken"))
    (tmp_path / "broken" / "files" / "index.html.j2").write_text("{{ instance.nope }}\n")

    done = _check(tmp_path)

    assert done.returncode == 1, done.stdout + done.stderr
    assert "ok   homepage" in done.stdout
    assert "FAIL broken" in done.stdout
    assert "broken/files/index.html.j2:1: 'dict object' has no attribute 'nope'" in done.stdout
    assert _check(tmp_path, "homepage").returncode == 0
