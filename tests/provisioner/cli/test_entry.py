"""What an operator sees when a command cannot do its work: one line and an exit code, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from provisioner import __version__


def _run(*args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PROVISIONER_")}
    env |= {f"PROVISIONER_{key.upper()}": value for key, value in settings.items()}
    return subprocess.run(
        [sys.executable, "-m", "provisioner", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_version() -> None:
    done = _run("--version")
    assert (done.returncode, done.stdout) == (0, f"provisioner {__version__}\n")


@pytest.mark.parametrize(
    ("settings", "code", "message"),
    [
        (
            {"base_domain": "Not A Domain"},
            2,
            "provisioner: the settings are not valid: PROVISIONER_BASE_DOMAIN: String should match pattern",
        ),
        ({"environment": "production"}, 2, "PROVISIONER_SECRET_KEY is still the development default"),
        ({"data_dir": "/nonexistent/folder"}, 1, "provisioner: the database cannot be used: unable to open"),
    ],
    ids=["setting", "production-key", "database"],
)
def test_a_problem_an_operator_can_fix_is_one_line(
    tmp_path: Path, settings: dict[str, str], code: int, message: str
) -> None:
    done = _run("jobs", "list", **({"data_dir": str(tmp_path)} | settings))
    assert done.returncode == code
    assert message in done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr


def test_a_refused_request_is_one_line(tmp_path: Path) -> None:
    assert _run("db", "upgrade", data_dir=str(tmp_path)).returncode == 0
    done = _run("jobs", "show", "job_nope", data_dir=str(tmp_path))
    assert (done.returncode, done.stderr) == (2, "provisioner: job not found\n")
