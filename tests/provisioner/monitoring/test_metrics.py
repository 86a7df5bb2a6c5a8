"""Server metrics with one SSH command per server, against the test bed's real sshd servers and Docker."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import docker
from sqlalchemy import select

from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.labels import LABEL_INSTANCE
from provisioner.models import Alert, Server, ServerMetric
from provisioner.monitoring.metrics import Collection, collect_all, footprints, parse_collection, record
from provisioner.monitoring.remote import parse_sections
from provisioner.servers.service import add_server
from tests.support import factories
from tests.support.sshd import TestServer
from tests.support.stack import free_port

DOCKER_OUTPUT = """\
@@disk
/dev/sda1 102400000 51200000 51200000 50% /
@@memory
MemTotal:        4000000 kB
MemAvailable:    1000000 kB
@@containers
prv-ins_a-web\tins_a
prv-ins_a-db\tins_a
prv-ins_b-web\tins_b
@@stats
prv-ins_a-web\t1.50%\t12.5MiB / 3.8GiB
prv-ins_a-db\t0.50%\t1.5GiB / 3.8GiB
prv-ins_b-web\t0.00%\t800KiB / 3.8GiB
prv-proxy-srv\t9.00%\t1GiB / 3.8GiB
@@mounts
ins_a /var/lib/docker/volumes/prv-ins_a-db/_data
ins_a /var/lib/docker/volumes/prv-ins_a-content/_data
ins_a /srv/provisioner/instances/ins_a
ins_b /var/lib/docker/volumes/prv-ins_b-site/_data
ins_c /srv/provisioner/instances/ins_c
ins_d /var/lib/docker/volumes/prv-ins_d-site/_data
ins_d /var/lib/docker/volumes/prv-ins_d-db/_data
@@du
51200\t/var/lib/docker/volumes/prv-ins_a-db/_data
10240\t/var/lib/docker/volumes/prv-ins_a-content/_data
1024\t/srv/provisioner/instances/ins_a
36\t/var/lib/docker/volumes/prv-ins_b-site/_data
8\t/srv/provisioner/instances/ins_c
2048\t/var/lib/docker/volumes/prv-ins_d-site/_data
@@ca
@@end
"""


def test_a_collection_is_parsed_into_disk_memory_and_each_instances_footprint() -> None:
    found = parse_collection(parse_sections(DOCKER_OUTPUT))
    assert (found.disk_total_mb, found.disk_used_mb) == (100000, 50000)
    assert (found.memory_total_mb, found.memory_available_mb) == (3906, 976)
    assert found.instances["ins_a"] == {"cpu_percent": 2.0, "memory_mb": 12.5 + 1536, "disk_mb": 61.0}
    assert found.instances["ins_b"] == {"cpu_percent": 0.0, "memory_mb": 800 / 1024, "disk_mb": 36 / 1024}
    assert found.instances["ins_c"] == {"cpu_percent": 0.0, "memory_mb": 0.0, "disk_mb": 8 / 1024}, "stopped"
    assert "disk_mb" not in found.instances.get("ins_d", {}), "du ran out of time before its second volume"
    assert set(found.instances) == {"ins_a", "ins_b", "ins_c"}, "only containers and volumes of instances"
    assert found.ca_pem is None


def _add(settings: Settings, server: TestServer, name: str, *, port: int | None = None) -> str:
    with transaction(settings.resolved_database_url) as session:
        return add_server(
            session,
            actor=factories.OPERATOR,
            name=name,
            address=server.address,
            port=port or server.port,
            user=server.user,
            cpu=2,
            memory_mb=2048,
            disk_gb=20,
            root_dir=str(server.root_dir),
            host_key=server.host_key,
        ).id


def test_reachable_and_unreachable_servers_over_ssh(
    db_url: str, tmp_path: Path, ssh_servers: list[TestServer], docker_client: docker.DockerClient
) -> None:
    server = ssh_servers[0]
    settings = Settings(
        data_dir=tmp_path, database_url=db_url, ssh_key_path=server.client_key, ssh_connect_timeout_seconds=3
    )
    good = _add(settings, server, "good")
    gone = _add(settings, server, "gone", port=free_port())
    found = collect_all(settings)
    assert found[good].reachable, found[good].error
    assert found[good].disk_total_mb
    assert found[good].disk_total_mb > 0
    assert found[good].memory_total_mb
    assert found[good].memory_available_mb is not None
    assert not found[gone].reachable
    assert found[gone].error is not None
    assert "gone" in found[gone].error

    with transaction(settings.resolved_database_url) as session:
        reachable = dict(session.execute(select(Server.name, Server.reachable)).all())
        metrics = session.scalars(select(ServerMetric)).all()
        alerts = session.scalars(select(Alert)).all()
    assert reachable == {"good": True, "gone": False}
    assert len(metrics) == 2
    assert [(a.kind, a.subject_id, a.status) for a in alerts] == [("server_unreachable", gone, "open")]


def test_an_instances_volumes_and_folder_are_measured_with_du_over_ssh(
    db_url: str, tmp_path: Path, ssh_servers: list[TestServer], docker_client: docker.DockerClient
) -> None:
    server = ssh_servers[0]
    settings = Settings(
        data_dir=tmp_path, database_url=db_url, ssh_key_path=server.client_key, ssh_connect_timeout_seconds=3
    )
    instance_id = f"ins_du{uuid.uuid4().hex[:12]}"
    volume = docker_client.volumes.create(f"prv-{instance_id}-data", labels={LABEL_INSTANCE: instance_id})
    folder = server.root_dir / "instances" / instance_id
    try:
        (Path(volume.attrs["Mountpoint"]) / "data.bin").write_bytes(os.urandom(2 * 1024**2))
        folder.mkdir(parents=True)
        (folder / "site.conf").write_bytes(os.urandom(1024**2))
        server_id = _add(settings, server, "du")
        found = collect_all(settings)[server_id]
    finally:
        volume.remove(force=True)
        shutil.rmtree(folder, ignore_errors=True)
    assert found.reachable, found.error
    assert 3.0 <= found.instances[instance_id]["disk_mb"] < 3.5, "2 MiB in the volume, 1 MiB in the folder"
    assert found.instances[instance_id]["cpu_percent"] == 0.0, "no container of it runs"


def test_a_server_reporting_figures_for_another_servers_instance_is_not_believed(
    db_url: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=db_url)
    with transaction(db_url) as session:
        honest, compromised = factories.server(session, "honest"), factories.server(session, "compromised")
        victim = factories.homepage(session, factories.tenant(session), "victim")
        own = factories.homepage(session, factories.tenant(session, "verein-b"), "own")
        victim.server, own.server = honest, compromised
        session.flush()
        ids = victim.id, own.id, honest.id, compromised.id
    victim_id, own_id, honest_id, compromised_id = ids
    figures = {"cpu_percent": 5.0, "memory_mb": 50.0, "disk_mb": 100.0}
    forged = {"cpu_percent": 400.0, "memory_mb": 64000.0, "disk_mb": 900000.0}
    with transaction(db_url) as session:
        record(session, settings, honest_id, Collection(reachable=True, instances={victim_id: figures}))
    with transaction(db_url) as session:
        claimed = {victim_id: forged, own_id: figures, "ins_unknown": forged}
        record(session, settings, compromised_id, Collection(reachable=True, instances=claimed))

    with transaction(db_url) as session:
        stored = session.scalars(select(ServerMetric).where(ServerMetric.server_id == compromised_id)).one()
        assert set(stored.instances) == {own_id}, "only figures of instances placed on the reporting server"
        found = footprints(session, [honest_id, compromised_id])
    assert {k: {f: v[f] for f in figures} for k, v in found.items()} == {victim_id: figures, own_id: figures}
