"""The layering contracts of pyproject.toml hold, and each one fails on an import that breaks it.

The check runs on a copy of the source tree, so the deliberate violations never touch the real one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

# (module added to the copy, its import, the contract it breaks)
VIOLATIONS = [
    ("provisioner/jobs/probe.py", "import provisioner.worker.tasks", "never import the entry points"),
    ("provisioner/instances/probe.py", "import ansible_runner", "Only the runner adapter imports"),
    ("provisioner/catalog/probe.py", "import api.app", "The core never imports the HTTP API"),
    ("provisioner/runner/probe.py", "import provisioner.db", "The runner knows nothing of the database"),
    ("provisioner/engine/probe.py", "import provisioner.worker.tasks", "Entry points on top"),
    ("provisioner/runner/probe_up.py", "import provisioner.instances.service", "Entry points on top"),
    ("provisioner/health/probe_cycle.py", "import provisioner.deployments.smoke", "No import cycles"),
    ("api/servers/probe.py", "import api.portal.web", "domain packages never import the portal"),
]


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "pyproject.toml"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("tree")
    for package in ("provisioner", "api"):
        shutil.copytree(REPO / package, tree / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tree)
    return tree


def test_the_source_keeps_every_contract(source_copy: Path) -> None:
    result = _lint(source_copy)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("module", "line", "contract"), VIOLATIONS, ids=[v[0] for v in VIOLATIONS])
def test_an_import_against_the_layering_fails_the_check(
    source_copy: Path, module: str, line: str, contract: str
) -> None:
    added = source_copy / module
    added.write_text(f"{line}  # a deliberate violation\n")
    try:
        result = _lint(source_copy)
    finally:
        added.unlink()
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, result.stdout
