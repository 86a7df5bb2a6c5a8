"""Runs the real control plane as separate processes, the way an operator would start it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.processes import kill_tree


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Stack:
    """A running control plane whose processes a test may stop, kill and start again, by role.

    Each role (``api``, ``worker``, ``beat``, or ``up`` in embedded mode) runs ``provisioner ROLE ...`` in a
    process group of its own and appends to ``logs/ROLE.log``.
    """

    def __init__(
        self,
        *,
        base_url: str,
        operator_token: str,
        env: dict[str, str],
        logs: Path,
        commands: dict[str, list[str]],
    ) -> None:
        self.base_url = base_url
        self.operator_token = operator_token
        self.env = env
        self.logs = logs
        self.commands = commands
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def log(self, role: str) -> Path:
        return self.logs / f"{role}.log"

    def start(self, role: str) -> subprocess.Popen[bytes]:
        running = self.processes.get(role)
        if running is not None and running.poll() is None:
            raise RuntimeError(f"{role} runs already (pid {running.pid})")
        self.logs.mkdir(parents=True, exist_ok=True)
        with self.log(role).open("ab") as log:  # the child keeps its own copy of the file descriptor
            process = subprocess.Popen(
                [sys.executable, "-m", "provisioner", *self.commands[role]],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes[role] = process
        return process

    def stop(self, role: str, *, timeout: float = 30) -> None:
        """A clean shutdown (SIGTERM to the process group), as a service manager does it."""
        process = self.processes[role]
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill(role)

    def kill(self, role: str) -> set[int]:
        """SIGKILL the role's process group and every process it started, as when its machine is lost.

        ansible-runner starts each ansible-playbook in a session of its own that ignores SIGHUP; without
        ending those too, a killed worker's playbook would run on as an orphan.
        """
        process = self.processes[role]
        killed = kill_tree(process.pid) if process.poll() is None else set()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        return killed

    def wait_for_log(self, role: str, text: str, *, after: int = 0, timeout: float = 60) -> None:
        """Wait until ``text`` appears in the role's log past byte offset ``after``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text.encode() in self.log(role).read_bytes()[after:]:
                return
            process = self.processes.get(role)
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{role} exited with {process.returncode}:\n{_tail(self.logs)}")
            time.sleep(0.2)
        raise RuntimeError(
            f"{text!r} did not appear in the {role} log within {timeout} s:\n{_tail(self.logs)}"
        )

    def stop_all(self) -> None:
        for role in list(self.processes):
            process = self.processes[role]
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for role in list(self.processes):
            try:
                self.processes[role].wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill(role)


def provisioner(*args: str, env: dict[str, str], timeout: float = 120) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "provisioner", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"provisioner {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def _wait_ready(stack: Stack) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for role, process in stack.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{role} exited early; see {stack.logs}:\n{_tail(stack.logs)}")
        try:
            if httpx.get(f"{stack.base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the API did not become ready; see {stack.logs}:\n{_tail(stack.logs)}")


def _tail(logs: Path) -> str:
    return "\n".join(
        f"--- {p.name}\n" + "\n".join(p.read_text().splitlines()[-30:]) for p in logs.glob("*.log")
    )


def base_env(data_dir: Path, *, ssh_key: Path, registry: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVISIONER_")}
    env |= {
        "PROVISIONER_DATA_DIR": str(data_dir),
        # The test process reads and writes the stack's database with the development key.
        "PROVISIONER_GENERATE_SECRET_KEY": "false",
        "PROVISIONER_SSH_KEY_PATH": str(ssh_key),
        "PROVISIONER_IMAGE_REGISTRY": registry,
        "PROVISIONER_REDISPATCH_AFTER_SECONDS": "20",
        # The celery worker runs as root in the test bed; that is expected here.
        "C_FORCE_ROOT": "1",
    }
    return env


def start_again(stack: Stack) -> None:
    """Start every role of a stopped stack again (on its settings as they are now), and wait until it
    answers on the same address."""
    for role in stack.commands:
        stack.start(role)
    _wait_ready(stack)


@contextmanager
def running(stack: Stack) -> Iterator[Stack]:
    try:
        for role in stack.commands:
            stack.start(role)
        _wait_ready(stack)
        yield stack
    finally:
        stack.stop_all()


@contextmanager
def production_stack(
    data_dir: Path,
    *,
    database_url: str,
    broker_url: str,
    ssh_key: Path,
    registry: str,
    env: Mapping[str, str] | None = None,
) -> Iterator[Stack]:
    """PostgreSQL + Redis, with API, worker and beat as separate processes; ``env`` adds settings."""
    full_env = (
        base_env(data_dir, ssh_key=ssh_key, registry=registry)
        | {
            "PROVISIONER_ENVIRONMENT": "production",
            "PROVISIONER_SECRET_KEY": "test-secret-key-for-production-mode",
            "PROVISIONER_DATABASE_URL": database_url,
            "PROVISIONER_BROKER_URL": broker_url,
        }
        | dict(env or {})
    )
    provisioner("db", "upgrade", env=full_env)
    token = provisioner("token", "create", "--operator", "--name", "e2e", env=full_env).strip()
    port = free_port()
    commands = {
        "api": ["api", "--port", str(port)],
        "worker": ["worker", "--concurrency", "2"],
        "beat": ["beat"],
    }
    stack = Stack(
        base_url=f"http://127.0.0.1:{port}",
        operator_token=token,
        env=full_env,
        logs=data_dir / "logs",
        commands=commands,
    )
    with running(stack):
        yield stack


@contextmanager
def embedded_stack(
    data_dir: Path,
    *,
    ssh_key: Path,
    registry: str,
    env: Mapping[str, str] | None = None,
    templates: Path | None = None,
) -> Iterator[Stack]:
    """SQLite and the embedded broker, everything started by one ``provisioner up``; ``env`` adds settings,
    ``templates`` is a catalog folder of the test's own in place of the shipped one."""
    env = base_env(data_dir, ssh_key=ssh_key, registry=registry) | dict(env or {})
    if templates is not None:
        env["PROVISIONER_TEMPLATES_DIR"] = str(templates)
    token = provisioner("token", "create", "--operator", "--name", "e2e", env=env).strip()
    port = free_port()
    stack = Stack(
        base_url=f"http://127.0.0.1:{port}",
        operator_token=token,
        env=env,
        logs=data_dir / "logs",
        commands={"up": ["up", "--port", str(port)]},
    )
    with running(stack):
        yield stack
