"""Run specs for real ansible-playbook runs against this machine, for tests of the runner adapter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from provisioner.runner.spec import HostSpec, RunSpec

THIS_MACHINE = HostSpec(
    name="local", address="127.0.0.1", port=22, user="root", connection="local", host_key=None
)


def local_run(folder: Path, playbook: str, text: str, variables: dict[str, Any], timeout: int) -> RunSpec:
    """``text`` written as ``folder/playbooks/<playbook>``, to run on this machine."""
    playbooks = folder / "playbooks"
    playbooks.mkdir(exist_ok=True)
    (playbooks / playbook).write_text(text)
    return RunSpec(
        playbook=playbook,
        playbooks_dir=playbooks,
        host=THIS_MACHINE,
        variables=variables,
        timeout_seconds=timeout,
    )
