"""The identity for the backup server leaves the instance server with every run that placed it, failed or
not, and with it the cache folders restic kept when every association on a server shared one: the
removal tasks run for real on this machine (a local connection, no server needed), and every playbook
that makes restic ready has them in the ``always`` of the block that places the identity.

The backup and restore runs over SSH with an identity are in tests/playbooks/test_backup_playbooks.py.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from provisioner.config import Settings
from provisioner.runner.adapter import run_playbook
from tests.support.runs import local_run
from tests.support.sinks import CollectingSink

PLAYBOOKS = Settings().resolved_playbooks_dir
PLACES = "tasks/restic.yml"
REMOVES = "tasks/restic_identity_remove.yml"
MODULE = "library/provisioner_restic.py"

FAILING_RUN = f"""
- name: A run that fails after the identity was placed
  hosts: all
  gather_facts: false
  tasks:
    - name: Work, then remove the identity
      block:
        - name: Fail
          ansible.builtin.fail:
            msg: the run failed
      always:
        - name: Remove the identity for the backup server
          ansible.builtin.import_tasks: {REMOVES}
"""


def _key_folder(path: Path, *, age_days: float = 0) -> Path:
    path.mkdir(parents=True)
    (path / "id_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    if age_days:
        then = time.time() - age_days * 86400
        os.utime(path, (then, then))
    return path


def test_a_failed_run_removes_its_identity_what_killed_runs_left_and_the_old_folder(tmp_path: Path) -> None:
    backup = tmp_path / "root" / "backup"
    own = _key_folder(backup / "run-0123456789abcdef")
    kept_before = _key_folder(backup / "bkt_x")
    _key_folder(backup / "run-killed", age_days=2)
    running = _key_folder(backup / "run-running", age_days=0.5)  # another run on this server, still going
    # restic's cache: the association's own folder stays, the one all shared before each had its own goes.
    own_cache, shared_cache = backup / "cache" / "ten_a", backup / "cache" / ("0a" * 32)
    for cache in (own_cache / ("0a" * 32), shared_cache):
        cache.mkdir(parents=True)
        (cache / "CACHEDIR.TAG").write_text("Signature: 8a477f597d28d172789f06886806bc55\n")
    for folder in ("tasks", "library"):
        (tmp_path / "playbooks" / folder).mkdir(parents=True)
    for needed in (REMOVES, MODULE):
        shutil.copy(PLAYBOOKS / needed, tmp_path / "playbooks" / needed)
    identity = {"dir": str(own), "kept_before": str(kept_before)}
    restic = {"identity": identity, "env": {"RESTIC_CACHE_DIR": str(own_cache)}}
    spec = local_run(tmp_path, "run.yml", FAILING_RUN, {"restic": restic}, timeout=120)  # type: ignore[dict-item]
    outcome = run_playbook(spec, CollectingSink(), work_root=tmp_path / "runs")
    assert outcome.status == "failed"
    assert outcome.error is not None
    assert outcome.error.endswith("Fail: the run failed")
    assert sorted(backup.iterdir()) == [backup / "cache", running]
    assert list((backup / "cache").iterdir()) == [own_cache]
    assert [p.name for p in own_cache.iterdir()] == ["0a" * 32]


def _blocks(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for task in tasks:
        if "block" in task:
            found.append(task)
            found += _blocks(task["block"])
    return found


def _imports(tasks: list[dict[str, Any]]) -> list[str]:
    return [str(t.get("ansible.builtin.import_tasks")) for t in tasks]


def _places(tasks: list[dict[str, Any]]) -> bool:
    """restic.yml imported, or the module asked to place the identity itself (a backup's one task)."""
    return PLACES in _imports(tasks) or any("identity" in (t.get("provisioner_restic") or {}) for t in tasks)


@pytest.mark.parametrize("playbook", ["backup.yml", "restore.yml", "drill-check.yml"])
def test_every_playbook_that_places_the_identity_removes_it_whatever_happens(playbook: str) -> None:
    play = yaml.safe_load((PLAYBOOKS / playbook).read_text())[0]
    placing = [b for b in _blocks(play["tasks"]) if _places(b["block"])]
    assert len(placing) == 1, "the identity is placed inside one block"
    assert REMOVES in _imports(placing[0].get("always", []))
    assert not _places(play["tasks"]), "not before the block"
