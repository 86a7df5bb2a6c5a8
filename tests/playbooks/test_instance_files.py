"""The instance folder stays closed to other users of the server, deploy after deploy.

The deploy's own module phase (the instance's files, as deploy.yml places them in its first task), run for
real by ansible-playbook on this machine with files at the top of the instance folder and in a folder below
it, as templates render them.
"""

from __future__ import annotations

import stat
from dataclasses import replace
from pathlib import Path

from provisioner.runner.adapter import run_playbook
from tests.support.runs import local_run
from tests.support.sinks import CollectingSink

PLAYBOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - name: Place the instance's files
      provisioner_step:
        phase: instance
        instance_dir: "{{ instance_dir }}"
        files: "{{ files }}"
        files_dir: "{{ private_dir }}/files"
        read: "{{ files | map(attribute='src') | list }}"
"""


def test_each_deploy_keeps_the_instance_folder_closed(tmp_path: Path) -> None:
    instance_dir = tmp_path / "srv" / "ins_x"
    files = [
        {"src": "env", "dest": "env", "mode": "0600", "group": None, "sensitive": True},
        {
            "src": "conf/site.conf",
            "dest": "conf/site.conf",
            "mode": "0644",
            "group": None,
            "sensitive": False,
        },
    ]
    variables = {"instance_dir": str(instance_dir), "files": files}
    spec = replace(
        local_run(tmp_path, "files.yml", PLAYBOOK, variables, timeout=120),
        files={"env": "DB_PASSWORD=x\n", "conf/site.conf": "listen 80;\n"},
    )
    for _ in range(2):  # a first deploy and a redeploy
        outcome = run_playbook(spec, CollectingSink(), work_root=tmp_path / "runs")
        assert outcome.status == "successful", outcome.error
        assert stat.S_IMODE(instance_dir.stat().st_mode) == 0o750
    assert stat.S_IMODE((instance_dir / "env").stat().st_mode) == 0o600
    assert (instance_dir / "conf" / "site.conf").read_text() == "listen 80;\n"
