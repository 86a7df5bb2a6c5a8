"""Embedded mode: the machine the control plane runs on serves as a server when Docker is there."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import docker
from docker.errors import DockerException
from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor
from provisioner.models import Server
from provisioner.servers.service import add_server

LOCAL_NAME = "local"


def docker_available() -> bool:
    try:
        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except DockerException:
        return False


def _memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 1024


def register_local_server(session: Session, *, actor: Actor, root_dir: Path) -> Server | None:
    existing = session.scalar(select(Server).where(Server.name == LOCAL_NAME))
    if existing is not None:
        return existing
    root_dir.mkdir(parents=True, exist_ok=True)
    return add_server(
        session,
        actor=actor,
        name=LOCAL_NAME,
        address="127.0.0.1",
        port=22,
        user=os.environ.get("USER", "root"),
        connection="local",
        cpu=os.cpu_count() or 1,
        memory_mb=_memory_mb(),
        disk_gb=shutil.disk_usage(root_dir).free // 2**30,
        root_dir=str(root_dir),
    )
