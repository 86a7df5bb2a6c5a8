"""Runs the real control plane as separate processes, the way an operator would start it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Stack:
    base_url: str
    operator_token: str
    env: dict[str, str]
    logs: Path


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


def _wait_ready(base_url: str, processes: list[subprocess.Popen[bytes]], logs: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"a process of the stack exited early; see {logs}:\n{_tail(logs)}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the API did not become ready; see {logs}:\n{_tail(logs)}")


def _tail(logs: Path) -> str:
    return "\n".join(
        f"--- {p.name}\n" + "\n".join(p.read_text().splitlines()[-30:]) for p in logs.glob("*.log")
    )


def base_env(data_dir: Path, *, ssh_key: Path, registry: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVISIONER_")}
    env |= {
        "PROVISIONER_DATA_DIR": str(data_dir),
        "PROVISIONER_SSH_KEY_PATH": str(ssh_key),
        "PROVISIONER_IMAGE_REGISTRY": registry,
        "PROVISIONER_REDISPATCH_AFTER_SECONDS": "20",
        # The celery worker runs as root in the test bed; that is expected here.
        "C_FORCE_ROOT": "1",
    }
    return env


@contextmanager
def running(commands: list[list[str]], env: dict[str, str], logs: Path, port: int) -> Iterator[str]:
    logs.mkdir(parents=True, exist_ok=True)
    processes: list[subprocess.Popen[bytes]] = []
    with ExitStack() as files:
        for index, command in enumerate(commands):
            log = files.enter_context((logs / f"{index}-{command[0]}.log").open("wb"))
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "provisioner", *command],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        files.callback(_stop, processes)
        base_url = f"http://127.0.0.1:{port}"
        _wait_ready(base_url, processes, logs)
        yield base_url


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def production_stack(
    data_dir: Path, *, database_url: str, broker_url: str, ssh_key: Path, registry: str
) -> Iterator[Stack]:
    """PostgreSQL + Redis, with API, worker and beat as separate processes."""
    env = base_env(data_dir, ssh_key=ssh_key, registry=registry) | {
        "PROVISIONER_ENVIRONMENT": "production",
        "PROVISIONER_SECRET_KEY": "test-secret-key-for-production-mode",
        "PROVISIONER_DATABASE_URL": database_url,
        "PROVISIONER_BROKER_URL": broker_url,
    }
    provisioner("db", "upgrade", env=env)
    token = provisioner("token", "create", "--operator", "--name", "e2e", env=env).strip()
    port = free_port()
    commands = [["api", "--port", str(port)], ["worker", "--concurrency", "2"], ["beat"]]
    with running(commands, env, data_dir / "logs", port) as base_url:
        yield Stack(base_url=base_url, operator_token=token, env=env, logs=data_dir / "logs")


@contextmanager
def embedded_stack(data_dir: Path, *, ssh_key: Path, registry: str) -> Iterator[Stack]:
    """SQLite and the embedded broker, everything started by one ``provisioner up``."""
    env = base_env(data_dir, ssh_key=ssh_key, registry=registry)
    token = provisioner("token", "create", "--operator", "--name", "e2e", env=env).strip()
    port = free_port()
    with running([["up", "--port", str(port)]], env, data_dir / "logs", port) as base_url:
        yield Stack(base_url=base_url, operator_token=token, env=env, logs=data_dir / "logs")
