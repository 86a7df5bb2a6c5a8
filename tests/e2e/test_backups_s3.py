"""Backups of a WordPress instance with real restic to an S3 backup target, restored into a new instance.

The S3 endpoint is moto's server (``tests/support/s3_standin.py``): a stand-in for a real S3 service,
because none can be installed here. Everything else is real: the provisioner in embedded mode, an sshd
test server running the instances (restic runs there and reaches the endpoint over loopback HTTP),
Docker Engine, WordPress and MariaDB images built from Debian packages, restic from Debian.
"""

from __future__ import annotations

import hashlib
import os
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.support.api_client import ApiClient, new_tenant
from tests.support.lab import (
    add_server,
    approve,
    job_succeeded,
    leftovers,
    remove_every_instance,
    remove_through_api,
    request_instance,
    succeeded,
)
from tests.support.proxy import remove_proxies
from tests.support.s3_standin import S3Endpoint, s3_standin
from tests.support.sshd import TestServer
from tests.support.stack import embedded_stack
from tests.support.wordpress import put_upload, sql, upload_sha256

pytestmark = pytest.mark.e2e

ROW_SQL = "SELECT body FROM notes WHERE id = 1"
PREFIX = "lab"  # the target's folder in the bucket; each tenant's repository lies below it


def _add_s3_target(operator: ApiClient, s3: S3Endpoint) -> dict[str, Any]:
    target: dict[str, Any] = operator.call(
        "POST",
        "/api/v1/backup-targets",
        expect=201,
        json={
            "name": "lab-s3",
            "kind": "s3",
            "path": f"{s3.bucket}/{PREFIX}",
            "s3_endpoint": s3.url,
            "s3_access_key_id": s3.access_key_id,
            "s3_secret_access_key": s3.secret_access_key,
        },
    )
    return target


def _job_text(client: ApiClient, job_id: str) -> str:
    """Everything the API shows of a job: its events (lines and output) and its whole stdout."""
    events = client.call("GET", f"/api/v1/jobs/{job_id}/events", expect=200)["items"]
    assert events
    stdout = client.http.get(f"/api/v1/jobs/{job_id}/stdout")
    assert stdout.status_code == 200
    return "\n".join([*(str(event) for event in events), stdout.text])


# Three deploy-sized jobs (deploy, backup, restore into a new instance, which deploys again) and two
# removals on a machine shared by many test runs: the SFTP backup test needs minutes for as many.
@pytest.mark.timeout(1200)
def test_wordpress_backup_to_s3_standin_restored_into_new_instance(
    tmp_path: Path,
    ssh_servers: list[TestServer],
    wordpress_images: dict[str, str],
    registry: str,
    docker_client: docker.DockerClient,
) -> None:
    server = ssh_servers[0]
    with ExitStack() as cleanup:
        s3 = cleanup.enter_context(s3_standin(tmp_path))
        stack = cleanup.enter_context(embedded_stack(tmp_path, ssh_key=server.client_key, registry=registry))
        operator = cleanup.enter_context(ApiClient(stack.base_url, stack.operator_token))
        server_id = add_server(operator, server, cpu=4)
        cleanup.callback(remove_proxies, docker_client, [server_id])
        cleanup.callback(remove_every_instance, docker_client, operator)
        tenant_id, verein = new_tenant(operator, stack.base_url, "verein-s3")
        verein = cleanup.enter_context(verein)

        target = _add_s3_target(operator, s3)
        assert (target["kind"], target["default"], target["s3_endpoint"]) == ("s3", True, s3.url)
        assert s3.secret_access_key not in str(target)

        blog_id = request_instance(verein, template="wordpress", name="blog")["id"]
        succeeded(operator, approve(operator, blog_id, server_id))

        upload = os.urandom(300_000)
        put_upload(docker_client, blog_id, upload)
        checksum = hashlib.sha256(upload).hexdigest()
        assert sql(docker_client, blog_id, "CREATE TABLE notes (id INT PRIMARY KEY, body TEXT)")[0] == 0
        assert sql(docker_client, blog_id, "INSERT INTO notes VALUES (1, 'Vereinsfest am Samstag')")[0] == 0

        backup_job = job_succeeded(
            verein, verein.call("POST", f"/api/v1/instances/{blog_id}/backups", expect=202)
        )
        backups = verein.call("GET", f"/api/v1/instances/{blog_id}/backups", expect=200)["items"]
        assert [b["status"] for b in backups] == ["succeeded"]
        backup = backups[0]
        assert backup["size_bytes"] >= len(upload)

        # The tenant's repository is in the bucket under the target's prefix: its config, the snapshot,
        # and pack files holding at least the upload's bytes.
        repository = f"{PREFIX}/{tenant_id}/"
        keys = s3.keys(repository)
        assert f"{repository}config" in keys
        snapshots = [k.removeprefix(f"{repository}snapshots/") for k in keys if "/snapshots/" in k]
        assert len(snapshots) == 1
        assert snapshots[0].startswith(backup["snapshot_id"])
        assert any(k.startswith(f"{repository}data/") for k in keys)
        assert s3.keys(f"{PREFIX}/") == keys  # nothing written beside the tenant's repository

        asked = verein.call(
            "POST",
            f"/api/v1/instances/{blog_id}/restore",
            expect=202,
            json={"backup": backup["id"], "into": "new", "name": "blog-copy"},
        )
        # The association's copy waits for approval like any request; approving it restores into it.
        assert asked["job"] is None
        copy_id = asked["instance"]["id"]
        restore_job = succeeded(operator, approve(operator, copy_id, server_id))
        assert restore_job["kind"] == "restore"
        assert copy_id != blog_id
        copy = verein.call("GET", f"/api/v1/instances/{copy_id}", expect=200)
        assert (copy["state"], copy["health"], copy["name"]) == ("running", "healthy", "blog-copy")
        assert upload_sha256(docker_client, copy_id) == checksum
        assert sql(docker_client, copy_id, ROW_SQL) == (0, "Vereinsfest am Samstag")

        # The S3 secret key reached restic (the backup worked) but shows in nothing the API tells.
        for job_id in (backup_job["id"], restore_job["id"]):
            text = _job_text(verein, job_id)
            assert "restic" in text
            assert s3.secret_access_key not in text

        for instance_id in (blog_id, copy_id):
            remove_through_api(verein, instance_id)
            assert leftovers(docker_client, instance_id) == []
        # Removing the instances keeps their backups: the repository stays in the bucket.
        assert f"{repository}config" in s3.keys(repository)
