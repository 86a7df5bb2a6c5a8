"""The one module that imports ansible_runner.

Each run gets a private folder (mode 0700) holding the inventory, the variables, known_hosts and the
rendered files; it is deleted when the run ends, whatever the outcome, after every process of the run
is stopped (see ``leftovers``); a folder whose worker died is swept by the next worker to start. The
SSH key goes through ansible-runner's key channel (a FIFO read by ssh-agent), so it never lands in a file.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import yaml

from provisioner.config import shipped_dir
from provisioner.runner.events import to_event
from provisioner.runner.leftovers import RUN_PREFIX, stop_processes_of, write_owner
from provisioner.runner.spec import EventSink, HostSpec, RunOutcome, RunSpec
from provisioner.runner.unsafe import dump_unsafe

# How often ansible-runner asks the sink whether to cancel, which is also when the sink flushes events and
# beats the heart. ansible-runner's own default is 5 s, which made events arrive in 5 s bursts and a
# cancel wait up to 5 s before it was even seen.
ASK_EVERY_SECONDS = 0.5


def _known_hosts_line(host: HostSpec) -> str:
    name = host.address if host.port == 22 else f"[{host.address}]:{host.port}"
    return f"{name} {host.host_key}\n"


def _inventory(host: HostSpec, private: Path, connect_timeout: int) -> dict[str, Any]:
    hostvars: dict[str, Any] = {"ansible_connection": host.connection}
    if host.connection == "local":
        # The control plane's own interpreter has the Docker API client the modules need.
        hostvars["ansible_python_interpreter"] = "{{ ansible_playbook_python }}"
    else:
        hostvars |= {
            "ansible_host": host.address,
            "ansible_port": host.port,
            "ansible_user": host.user,
            "ansible_python_interpreter": "/usr/bin/python3",
            "ansible_ssh_common_args": (
                f"-o UserKnownHostsFile={private / 'known_hosts'} -o StrictHostKeyChecking=yes "
                f"-o ConnectTimeout={connect_timeout} -o BatchMode=yes"
            ),
        }
    # The server's name (a validated slug) names the host, so every event and error says which server.
    return {"all": {"hosts": {host.name: hostvars}}}


def mitogen_strategies() -> Path:
    """Mitogen for Ansible's strategy plugins, found without importing it into the worker."""
    found = importlib.util.find_spec("ansible_mitogen")
    if found is None or not found.submodule_search_locations:
        raise RuntimeError(
            "Mitogen for Ansible is asked for but not installed: pip install 'provisioner[mitogen]'"
        )
    return Path(next(iter(found.submodule_search_locations))) / "plugins" / "strategy"


def ansible_environment(playbooks_dir: Path, control_dir: Path, *, mitogen: bool = False) -> dict[str, str]:
    """What every run of ours sets for Ansible; the deploy benchmark's plain run sets the same."""
    # The playbooks' own modules and action plugins (provisioner_step), also for a playbook that only
    # imports one of their task files from elsewhere.
    plugins = [playbooks_dir, shipped_dir("playbooks")]
    # Mitogen runs every task of a run through one Python process on the server, kept for the run,
    # instead of one interpreter started per task; its connection checks the host key as ssh does.
    strategy = {"ANSIBLE_STRATEGY_PLUGINS": str(mitogen_strategies()), "ANSIBLE_STRATEGY": "mitogen_linear"}
    return (strategy if mitogen else {}) | {
        # The Ansible of this installation, also when its virtualenv is not activated.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control_dir),
        "ANSIBLE_LIBRARY": os.pathsep.join(str(folder / "library") for folder in plugins),
        "ANSIBLE_ACTION_PLUGINS": os.pathsep.join(str(folder / "action_plugins") for folder in plugins),
        # Modules go through the open SSH session instead of a temporary file each: about a
        # quarter off a deploy. Safe without become, and the lab's servers need no requiretty.
        "ANSIBLE_PIPELINING": "1",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_HOST_KEY_CHECKING": "1",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
    }


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


class AnsibleRunner:
    """The real ``Runner``: each run in a private folder under ``work_root``."""

    def __init__(self, work_root: Path) -> None:
        self._work_root = work_root

    def run(self, spec: RunSpec, sink: EventSink) -> RunOutcome:
        return run_playbook(spec, sink, work_root=self._work_root)


def run_playbook(spec: RunSpec, sink: EventSink, *, work_root: Path) -> RunOutcome:
    import ansible_runner  # noqa: PLC0415 - loaded when used, so an idle worker stays small

    work_root.mkdir(parents=True, exist_ok=True, mode=0o700)
    private = Path(tempfile.mkdtemp(prefix=RUN_PREFIX, dir=work_root))
    # A connection shared with an earlier run would skip this run's host key check; sockets need a short path.
    control_dir = Path(tempfile.mkdtemp(prefix="prv-cp-"))
    first_error: list[str] = []
    lock = threading.Lock()

    def on_event(raw: dict[str, Any]) -> bool:
        event = to_event(raw)
        if event is not None:
            with lock:
                if event.status in ("failed", "unreachable") and not first_error:
                    first_error.append(event.line)
            sink.emit(event)
        # The database keeps the events; nothing needs to be written to the private folder.
        return False

    try:
        write_owner(private)
        _write_private(
            private / "inventory" / "hosts.yml",
            yaml.safe_dump(_inventory(spec.host, private, spec.ssh_connect_timeout_seconds)),
        )
        _write_private(private / "env" / "extravars", dump_unsafe(spec.variables))
        # Written here because suppress_env_files (below) keeps ansible-runner from writing any env file.
        settings: dict[str, Any] = {"pexpect_timeout": ASK_EVERY_SECONDS}
        if spec.idle_timeout_seconds:
            settings["idle_timeout"] = spec.idle_timeout_seconds
        _write_private(private / "env" / "settings", json.dumps(settings))
        if spec.host.host_key:
            _write_private(private / "known_hosts", _known_hosts_line(spec.host))
        for relative, text in spec.files.items():
            _write_private(private / "files" / relative, text)
        result = ansible_runner.run(
            private_data_dir=str(private),
            project_dir=str(spec.playbooks_dir),
            playbook=spec.playbook,
            ssh_key=spec.ssh_private_key,
            event_handler=on_event,
            cancel_callback=sink.should_cancel,
            timeout=spec.timeout_seconds,
            # Otherwise ansible-runner writes its arguments to env/ files first, the key to env/ssh_key.
            suppress_env_files=True,
            quiet=True,
            envvars={
                # ansible-runner starts from the worker's environment and writes it into the run folder
                # (artifacts/*/command): the control plane's settings, its secrets among them, are blanked.
                **{name: "" for name in os.environ if name.startswith("PROVISIONER_")},
                **ansible_environment(spec.playbooks_dir, control_dir, mitogen=spec.mitogen),
            },
            extravars={"private_dir": str(private)},
        )
        status = str(result.status)
        error = None
        if status != "successful":
            error = first_error[0] if first_error else _fallback_error(status, result.rc, _last_line(result))
        return RunOutcome(status=status, rc=result.rc, error=error)
    finally:
        # A canceled or timed-out run: ansible-runner killed its process group, but Ansible's workers
        # run in sessions of their own and would finish their task on the server.
        stop_processes_of(private)
        shutil.rmtree(private, ignore_errors=True)
        shutil.rmtree(control_dir, ignore_errors=True)


def _last_line(result: Any) -> str:
    try:
        with result.stdout as output:  # ansible-runner opens the file for us; we must close it
            lines = [line.strip() for line in output.read().splitlines() if line.strip()]
    except (OSError, AttributeError):
        return ""
    return lines[-1][:300] if lines else ""


def _fallback_error(status: str, rc: int | None, last_line: str) -> str:
    if status == "canceled":
        return "canceled while running"
    if status == "timeout":
        return "it ran longer than its time limit, or printed nothing for longer than its idle limit"
    said = f": {last_line}" if last_line else ""
    return f"Ansible stopped with exit code {rc} before any task ran{said}"
