"""restic's REST protocol served by Debian's rclone (``rclone serve restic``), as a lab runs it in front
of a backup folder: one listener append-only with a private repository per user (the instance
servers'), one with full access for one admin user (the control plane's, for pruning). rclone reads the
first one's htpasswd file again when it changes, so users added by the control plane count at once.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from provisioner.backups.htpasswd import entry
from provisioner.backups.targets import add_target
from provisioner.config import Settings
from provisioner.models import BackupTarget
from tests.support import factories
from tests.support.processes import kill_tree
from tests.support.stack import free_port


@dataclass(frozen=True)
class RestServer:
    folder: Path  # holds one repository per user, <folder>/<user>
    url: str  # append-only, private repositories: the servers' listener
    admin_url: str  # full access: the control plane's listener
    htpasswd: Path  # the servers' listener's users; kept by the control plane
    admin_user: str
    admin_password: str


def _wait_for(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"rclone exited:\n{log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"rclone on port {port} did not listen within 30 s:\n{log.read_text()}")


@contextmanager
def _listener(folder: Path, htpasswd: Path, name: str, *flags: str) -> Iterator[str]:
    port = free_port()
    log = folder.parent / f"rclone-{name}.log"
    argv = [
        "rclone", "serve", "restic", "--config", str(folder.parent / "rclone.conf"),
        "--addr", f"127.0.0.1:{port}", "--htpasswd", str(htpasswd), *flags, str(folder),
    ]  # fmt: skip
    with log.open("ab") as output:
        process = subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for(port, process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        kill_tree(process.pid)
        process.wait()


@contextmanager
def rest_server(folder: Path) -> Iterator[RestServer]:
    """Both listeners on loopback and free ports, serving ``folder``; stopped at the end."""
    folder.mkdir(parents=True)
    htpasswd, admin_htpasswd = folder.parent / "htpasswd", folder.parent / "admin-htpasswd"
    htpasswd.touch()
    admin_password = secrets.token_urlsafe(32)
    admin_htpasswd.write_text(entry("lab", admin_password) + "\n")
    with ExitStack() as stack:
        url = stack.enter_context(_listener(folder, htpasswd, "servers", "--append-only", "--private-repos"))
        admin_url = stack.enter_context(_listener(folder, admin_htpasswd, "admin"))
        yield RestServer(folder, url, admin_url, htpasswd, "lab", admin_password)


def add_rest_target(session: Session, settings: Settings, rest: RestServer) -> BackupTarget:
    """The running REST server as the lab's default backup target."""
    return add_target(
        session, actor=factories.OPERATOR, settings=settings, name="lab", kind="rest", path=str(rest.folder),
        rest_url=rest.url, rest_admin_url=rest.admin_url, htpasswd_file=str(rest.htpasswd),
        rest_admin_user=rest.admin_user, rest_admin_password=rest.admin_password, default=True,
    )  # fmt: skip


def tenant_password(variables: dict[str, Any]) -> str:
    """The tenant user's password on the REST server, from the repository URL a run's restic gets."""
    return str(variables["env"]["RESTIC_REPOSITORY"].split("@")[0].rsplit(":", 1)[1])


def run_restic(
    variables: dict[str, Any], *argv: str, check: bool = True, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """restic on this machine with a run's variables (``argv`` and ``env``, as a playbook gets them)."""
    done = subprocess.run(
        [*variables["argv"], *argv],
        env=os.environ | variables["env"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 or not check, done.stderr
    return done
