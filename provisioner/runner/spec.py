"""What the runner adapter needs for one run, and what it reports back. No database here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class HostSpec:
    name: str
    address: str
    port: int
    user: str
    connection: str  # "ssh" or "local"
    host_key: str | None


@dataclass(frozen=True)
class RunSpec:
    playbook: str  # file name inside playbooks_dir
    playbooks_dir: Path
    host: HostSpec
    # Every string in here reaches Ansible marked unsafe: it is never templated.
    variables: dict[str, Any]
    # Files to place in the run's private folder (relative path -> text); removed with it.
    files: dict[str, str] = field(default_factory=dict)
    ssh_private_key: str | None = None
    timeout_seconds: int = 1800
    # Stop a run that printed nothing for this long (a hung SSH session, a stuck task).
    idle_timeout_seconds: int | None = None
    ssh_connect_timeout_seconds: int = 10
    # Run with Mitogen for Ansible's strategy (settings: ansible_mitogen).
    mitogen: bool = False


@dataclass(frozen=True)
class RunnerEvent:
    seq: int
    created_at: datetime
    host: str | None
    task: str | None
    status: str  # ok, changed, failed, skipped, unreachable, or info for non-task events
    line: str  # one short line a person can read
    stdout: str


class EventSink(Protocol):
    def emit(self, event: RunnerEvent) -> None: ...

    def should_cancel(self) -> bool: ...


@dataclass(frozen=True)
class RunOutcome:
    status: str  # successful, failed, canceled, timeout
    rc: int | None
    error: str | None  # one line for people, from the first failing task


class Runner(Protocol):
    """Runs one playbook: the real ``AnsibleRunner`` (adapter.py) or the tests' ``ScriptedRunner``."""

    def run(self, spec: RunSpec, sink: EventSink) -> RunOutcome: ...
