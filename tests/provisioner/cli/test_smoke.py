"""``provisioner servers bootstrap`` and ``provisioner templates smoke`` as an operator runs them,
against a real sshd test server with Docker, its proxy and the homepage image from the local registry."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from sqlalchemy import select

from provisioner.db import session_factory
from provisioner.migrate import upgrade
from provisioner.models import Job, JobEvent
from provisioner.servers.service import add_server
from tests.support.factories import OPERATOR
from tests.support.proxy import proxy_container, remove_proxies
from tests.support.sshd import TestServer
from tests.support.stack import base_env

pytestmark = pytest.mark.e2e


@pytest.fixture
def operator_env(
    tmp_path: Path, ssh_servers: list[TestServer], registry: str, docker_client: docker.DockerClient
) -> Iterator[tuple[dict[str, str], str]]:
    server = ssh_servers[0]
    url = f"sqlite:///{tmp_path / 'provisioner.sqlite'}"
    upgrade(url)
    with session_factory(url)() as session:
        row = add_server(
            session, actor=OPERATOR, name=server.name, address=server.address, port=server.port,
            user=server.user, cpu=2, memory_mb=2048, disk_gb=20, root_dir=str(server.root_dir),
            host_key=server.host_key,
        )  # fmt: skip
        session.commit()
        server_id = row.id
    try:
        env = base_env(tmp_path, ssh_key=server.client_key, registry=registry)
        yield env | {"PROVISIONER_DATABASE_URL": url}, server_id
    finally:
        remove_proxies(docker_client, [server_id])


def env_database(env: dict[str, str]) -> str:
    return env["PROVISIONER_DATABASE_URL"]


def _provisioner(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "provisioner", *args], env=env, capture_output=True, text=True,
        check=False, timeout=600,
    )  # fmt: skip


def test_bootstrap_starts_the_proxy_and_smoke_reports_every_step(
    operator_env: tuple[dict[str, str], str],
    ssh_servers: list[TestServer],
    homepage_images: dict[str, str],
    docker_client: docker.DockerClient,
) -> None:
    env, server_id = operator_env
    done = _provisioner(env, "servers", "bootstrap", "server1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert proxy_container(docker_client, server_id).status == "running"
    # It ran as the server's job, the one the portal's button starts: in the job list, with its steps.
    with session_factory(env_database(env))() as session:
        job = session.scalars(select(Job).where(Job.target_server_id == server_id)).one()
        assert (job.kind, job.status, job.instance_id) == ("bootstrap", "succeeded", None)
        steps = session.scalars(select(JobEvent.task).where(JobEvent.job_id == job.id)).all()
    assert "Make sure the server's proxy runs" in steps
    assert f"server1 is ready (job {job.id})" in done.stdout

    done = _provisioner(env, "templates", "smoke", "homepage", "--server", "server1")
    assert done.returncode == 0, done.stdout + done.stderr
    report = done.stdout.split("smoke test of homepage on server1:", 1)[1]
    assert "PASS deploy" in report
    assert "PASS health" in report
    assert "PASS remove" in report
    leftovers = docker_client.containers.list(all=True, filters={"label": "org.provisioner.tenant=smoke"})
    assert leftovers == []
