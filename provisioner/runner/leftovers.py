"""Processes and folders a run leaves behind when whoever supervised it is gone.

Ansible's worker processes start sessions of their own, so killing the process group ansible-runner
started (what it does on cancel and timeout) leaves a task running on the server, and a worker killed
outright leaves the whole playbook running unsupervised (ansible-runner ignores the hang-up), its
private folder with the run's secrets on disk. Every process of a run names the run's private folder
on its command line, and whatever those processes start descends from them: that is how a run's
processes are found, on Linux through ``/proc``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

OWNER_FILE = "owner.json"
RUN_PREFIX = "run-"
# A folder without an owner file is being set up right now, or was left by a release before the file;
# after this long it is the latter.
UNOWNED_GRACE_SECONDS = 60.0
_PROC = Path("/proc")


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot: with the pid, it names one process for good."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses; the fields after its last ")" do not.
    return stat.rsplit(")", 1)[1].split()[19]


def write_owner(private: Path) -> None:
    """Say which process supervises the run, so a sweep can tell a live run from a left-over one."""
    owner = {"host": socket.gethostname(), "pid": os.getpid(), "started": _start_time(os.getpid())}
    fd = os.open(private / OWNER_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(owner, handle)


def _supervised(private: Path) -> bool:
    try:
        owner = json.loads((private / OWNER_FILE).read_text())
    except FileNotFoundError:
        return time.time() - private.stat().st_mtime < UNOWNED_GRACE_SECONDS
    except (OSError, ValueError):
        return False
    if owner.get("host") != socket.gethostname():
        return True  # a data folder shared between machines: only the owner's machine can tell
    pid = owner.get("pid")
    return isinstance(pid, int) and _start_time(pid) == owner.get("started")


def _processes() -> dict[int, tuple[int, bytes]]:
    """pid -> (parent pid, command line) of every process we can see."""
    found: dict[int, tuple[int, bytes]] = {}
    for entry in _PROC.glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # ended while we looked
        found[int(entry.name)] = (int(stat.rsplit(")", 1)[1].split()[1]), cmdline)
    return found


def _with_descendants(roots: set[int], table: dict[int, tuple[int, bytes]]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    members = set(roots)
    todo = list(roots)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in members:
                members.add(child)
                todo.append(child)
    return members


def processes_of(private: Path) -> set[int]:
    """The processes that name the run's folder, and everything they started."""
    table = _processes()
    marker = str(private).encode()
    named = {pid for pid, (_, cmdline) in table.items() if marker in cmdline and pid != os.getpid()}
    return _with_descendants(named, table)


def descendants_of(pid: int) -> set[int]:
    """Every process below ``pid`` (without it); empty where there is no ``/proc``."""
    if not _PROC.is_dir():
        return set()
    return _with_descendants({pid}, _processes()) - {pid}


def freeze_and_kill(find: Callable[[], set[int]]) -> set[int]:
    """SIGKILL what ``find`` names, frozen first (SIGSTOP) until it names nothing new, so nothing forks
    or moves away between finding and killing. Returns the pids that got the signal."""
    frozen: set[int] = set()
    while found := find() - frozen:
        for pid in found:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        frozen |= found
    for pid in frozen:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return frozen


def stop_processes_of(private: Path) -> int:
    """Kill every process of the run, whatever session it started; how many were found."""
    if not _PROC.is_dir():
        return 0
    return len(freeze_and_kill(lambda: processes_of(private)))


def sweep_left_runs(work_root: Path) -> list[Path]:
    """Stop the processes of runs whose supervising process is gone, and delete their private folders."""
    if not work_root.is_dir():
        return []
    swept = []
    for private in sorted(work_root.glob(f"{RUN_PREFIX}*")):
        if not private.is_dir() or _supervised(private):
            continue
        stopped = stop_processes_of(private)
        shutil.rmtree(private, ignore_errors=True)
        log.warning("removed the run folder of a worker that is gone (%d processes stopped)", stopped)
        swept.append(private)
    return swept
