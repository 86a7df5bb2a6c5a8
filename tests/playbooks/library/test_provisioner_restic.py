"""The backup module's decision whether an instance's retention is due, without a server."""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path
from types import ModuleType

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
