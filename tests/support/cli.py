"""The ``provisioner`` command as an operator runs it, on a data folder of the test's own (SQLite)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PROVISIONER_DATA_DIR": str(data_dir), "PROVISIONER_DATABASE_URL": ""}
    return subprocess.run(
        [sys.executable, "-m", "provisioner", *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
