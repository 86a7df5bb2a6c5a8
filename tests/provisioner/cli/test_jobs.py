"""``provisioner jobs list|show --json``: the job table as scripts read it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.factories import approved_homepage


def test_jobs_as_json(tmp_path: Path) -> None:
    env = {**os.environ, "PROVISIONER_DATA_DIR": str(tmp_path), "PROVISIONER_DATABASE_URL": ""}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "provisioner", *args],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip

    assert run("db", "upgrade").returncode == 0
    approved = approved_homepage(f"sqlite:///{tmp_path / 'provisioner.sqlite'}")
    listed = run("jobs", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [job] = json.loads(listed.stdout)
    assert (job["id"], job["kind"], job["status"], job["instance"]) == (
        approved.job_id,
        "deploy",
        "queued",
        approved.instance_id,
    )
    shown = json.loads(run("jobs", "show", approved.job_id, "--json").stdout)
    assert shown == job | {"steps": []}
