"""The backup module's retention, without a server: when an instance's or a space's keep rules are due,
and what they forget (with real restic on a local repository)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import time
from pathlib import Path
from types import ModuleType

import pytest

from provisioner.config import Settings

MODULE = Settings().resolved_playbooks_dir / "library" / "provisioner_restic.py"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("provisioner_restic", MODULE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_retention_is_due_once_per_interval_and_always_without_a_marker(tmp_path: Path) -> None:
    prune_due = _module().prune_due
    marker = tmp_path / "pruned" / "ins_a"
    assert prune_due(None, 86400), "without a marker (as before), at every backup"
    assert prune_due(str(marker), 86400), "never pruned on this server"
    marker.parent.mkdir()
    marker.write_text("")
    assert not prune_due(str(marker), 86400), "pruned a moment ago"
    a_day_ago = time.time() - 86400
    os.utime(marker, (a_day_ago, a_day_ago))
    assert prune_due(str(marker), 86400)


class _Module:
    """What a phase uses of Ansible's module: its parameters and its way of running a command."""

    def __init__(self, params: dict[str, object]) -> None:
        self.params = params

    def run_command(
        self, argv: list[str], cwd: str | None = None, environ_update: dict[str, str] | None = None
    ) -> tuple[int, str, str]:
        done = subprocess.run(
            argv,
            cwd=cwd,
            env=os.environ | (environ_update or {}),
            capture_output=True,
            text=True,
            check=False,
        )
        return done.returncode, done.stdout, done.stderr

    def fail_json(self, **said: object) -> None:
        raise AssertionError(said)


def _hosts(restic: list[str]) -> list[str]:
    listed = subprocess.run([*restic, "snapshots", "--json"], capture_output=True, text=True, check=True)
    return sorted(s["hostname"] for s in json.loads(listed.stdout))


def _back_up(restic: list[str], owner: str) -> None:
    """A snapshot as a backup run makes it: the owner's id as restic's host and as a tag."""
    backup = [*restic, "backup", "--host", owner, "--tag", owner, "--", "/etc/hostname"]
    subprocess.run(backup, check=True, capture_output=True)


def test_a_spaces_backup_applies_the_keep_rules_to_that_space_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With real restic on a local repository: a space's run forgets that space's older snapshots,
    once per interval, and leaves the other space's and the instance's as they are."""
    monkeypatch.setenv("RESTIC_REPOSITORY", str(tmp_path / "repository"))
    monkeypatch.setenv("RESTIC_PASSWORD", "only-for-this-test")
    restic = ["restic", "--no-cache", "--quiet"]
    subprocess.run([*restic, "init"], check=True, capture_output=True)
    for owner in ("spc_a", "spc_a", "spc_b", "spc_b", "ins_c"):
        _back_up(restic, owner)
    module = _module()
    marker = tmp_path / "pruned" / "spc_a"
    params = {
        "restic_argv": restic,
        "instance_id": "spc_a",
        "keep_options": ["--keep-daily", "1"],
        "prune_marker": str(marker),
        "prune_every_seconds": 86400.0,
    }

    module.apply_retention(module.Phase(_Module(params)))

    assert _hosts(restic) == ["ins_c", "spc_a", "spc_b", "spc_b"]
    assert marker.exists()
    _back_up(restic, "spc_a")
    module.apply_retention(module.Phase(_Module(params)))  # pruned a moment ago: not due
    assert _hosts(restic) == ["ins_c", "spc_a", "spc_a", "spc_b", "spc_b"]
    # A target whose servers may only append gets no keep rules: nothing is forgotten there.
    module.apply_retention(module.Phase(_Module(params | {"keep_options": [], "prune_marker": None})))
    assert len(_hosts(restic)) == 5


class _ServerWithout(_Module):
    """A server whose Docker has the volumes under ``volumes`` (their folders) and runs nothing in
    containers (each ``docker exec`` is kept); restic and df run for real."""

    def __init__(self, params: dict[str, object], volumes: Path) -> None:
        super().__init__(params)
        self.volumes = volumes
        self.executed: list[list[str]] = []

    def run_command(
        self, argv: list[str], cwd: str | None = None, environ_update: dict[str, str] | None = None
    ) -> tuple[int, str, str]:
        if argv[:3] == ["docker", "volume", "inspect"]:
            folder = self.volumes / argv[3] / "_data"
            found = folder.is_dir()
            return (0, json.dumps([{"Mountpoint": str(folder)}]), "") if found else (1, "", "no such volume")
        if argv[:2] == ["docker", "exec"]:
            self.executed.append(argv[2:])
            return 0, "", ""
        return super().run_command(argv, cwd=cwd, environ_update=environ_update)

    def exit_json(self, **said: object) -> None:
        raise AssertionError(said)


def test_a_backup_leaves_out_an_optional_volume_the_server_lacks_with_the_step_that_needs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A WordPress deployed before the WXR: no wxr volume (nor export-wxr.php) on its server. The
    backup takes the rest with real restic, skips the step writing the WXR, and reports it left out;
    a volume that is not optional and missing still fails the backup."""
    monkeypatch.setenv("RESTIC_REPOSITORY", str(tmp_path / "repository"))
    monkeypatch.setenv("RESTIC_PASSWORD", "only-for-this-test")
    restic = ["restic", "--no-cache", "--quiet"]
    subprocess.run([*restic, "init"], check=True, capture_output=True)
    volumes = tmp_path / "volumes"
    for name in ("prv-i1-db", "prv-i1-content"):
        (volumes / name / "_data").mkdir(parents=True)
        (volumes / name / "_data" / "kept").write_text(name)
    dump = {"container": "prv-i1-db", "argv": ["sh", "-c", "dump"], "needs": None}
    wxr = {
        "container": "prv-i1-web",
        "argv": ["php", "/etc/provisioner/export-wxr.php"],
        "needs": "prv-i1-wxr",
    }
    params: dict[str, object] = {
        "restic_argv": restic, "prepare": True, "create": False, "identity": None, "identity_key": None,
        "volumes": [
            {"name": "db", "docker": "prv-i1-db", "optional": False},
            {"name": "content", "docker": "prv-i1-content", "optional": False},
            {"name": "wxr", "docker": "prv-i1-wxr", "optional": True},
        ],
        "min_free_mb": 0, "instance_id": "i1", "tag_options": ["--tag", "i1"],
        "backup_paths": ["prv-i1-db/_data/kept", "prv-i1-content/_data", "prv-i1-wxr/_data"],
        "keep_options": [], "prune_marker": None, "prune_every_seconds": 0.0,
        "before_steps": [dump, wxr], "after_steps": [], "remove": [], "cache_dir": None,
    }  # fmt: skip
    module = _module()
    server = _ServerWithout(params, volumes)

    result = module.backup(module.Phase(server))

    assert result["report"]["missing"] == ["wxr"]
    assert server.executed == [["prv-i1-db", "sh", "-c", "dump"]]
    listed = subprocess.run(
        [*restic, "ls", "--json", "latest"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    paths = sorted(json.loads(line)["path"] for line in listed[1:])
    assert paths == [
        "/prv-i1-content", "/prv-i1-content/_data", "/prv-i1-content/_data/kept",
        "/prv-i1-db", "/prv-i1-db/_data", "/prv-i1-db/_data/kept",
    ]  # fmt: skip
    required = {**params, "volumes": [{**v, "optional": False} for v in params["volumes"]]}  # type: ignore[attr-defined]
    with pytest.raises(AssertionError, match="the instance's volumes are missing on the server: prv-i1-wxr"):
        module.backup(module.Phase(_ServerWithout(required, volumes)))
