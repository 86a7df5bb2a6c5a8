"""Deploy and remove are safe to run again: a second run changes nothing. This is why jobs are not
retried blindly, yet an operator may always run them again after a failure."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import docker
import pytest

from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.deployments.plan import build_run_spec
from provisioner.instances.service import approve_instance
from provisioner.jobs.states import JobKind
from provisioner.models import Instance
from provisioner.runner.adapter import run_playbook
from provisioner.servers.service import add_server
from tests.support import factories
from tests.support.db import migrated
from tests.support.proxy import remove_proxies
from tests.support.sinks import CollectingSink
from tests.support.sshd import TestServer

pytestmark = pytest.mark.e2e


def _run_twice(
    settings: Settings, url: str, instance_id: str, kind: JobKind, tmp_path: Path
) -> list[CollectingSink]:
    runs = []
    for _ in range(2):
        with session_factory(url)() as session:
            instance = session.get_one(Instance, instance_id)
            spec = build_run_spec(settings, factories.CATALOG, instance, kind)
        sink = CollectingSink()
        outcome = run_playbook(spec, sink, work_root=tmp_path / "runs")
        assert outcome.status == "successful", outcome.error
        runs.append(sink)
    return runs


def test_deploy_and_remove_converge_and_a_stale_route_for_the_address_goes(
    tmp_path: Path,
    ssh_servers: list[TestServer],
    homepage_images: dict[str, str],
    registry: str,
    docker_client: docker.DockerClient,
) -> None:
    server = ssh_servers[0]
    settings = Settings(data_dir=tmp_path, image_registry=registry, ssh_key_path=server.client_key)
    with ExitStack() as cleanup, migrated("sqlite", tmp_path) as url, session_factory(url)() as session:
        owner = factories.tenant(session)
        row = add_server(
            session,
            actor=factories.OPERATOR,
            name=server.name,
            address=server.address,
            port=server.port,
            user=server.user,
            cpu=2,
            memory_mb=1024,
            disk_gb=10,
            root_dir=str(server.root_dir),
            host_key=server.host_key,
        )
        instance = factories.homepage(session, owner)
        approve_instance(
            session,
            actor=factories.OPERATOR,
            catalog=factories.CATALOG,
            instance_id=instance.id,
            server_id=None,
        )
        session.commit()
        label = {"label": f"org.provisioner.instance={instance.id}"}
        cleanup.callback(remove_proxies, docker_client, [row.id])

        # A route for the same address left by an earlier registration of the server: with both files
        # Caddy would refuse its configuration ("ambiguous site definition") and serve nobody.
        hostname = urlsplit(instance.url or "").hostname
        assert hostname
        sites = server.root_dir / "proxy" / "sites"
        sites.mkdir(parents=True, exist_ok=True)
        stale = sites / "ins_earlierregistr.caddy"
        stale.write_text(f"# instance ins_earlierregistr\n{hostname} {{\n\treverse_proxy gone:80\n}}\n")

        first, second = _run_twice(settings, url, instance.id, JobKind.DEPLOY, tmp_path)
        assert first.changed, "the first deploy creates things"
        assert not stale.exists()
        assert (sites / f"{instance.id}.caddy").exists()
        assert second.changed == []
        assert len(docker_client.containers.list(filters=label)) == 1

        first, second = _run_twice(settings, url, instance.id, JobKind.REMOVE, tmp_path)
        assert first.changed, "the first removal removes things"
        assert second.changed == []
        assert docker_client.containers.list(all=True, filters=label) == []
        assert docker_client.volumes.list(filters=label) == []
