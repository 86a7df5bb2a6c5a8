"""Nextcloud's shipped template through its whole life, against stand-ins of its upstream images:
deploy → healthy → the first admin signs in through the proxy → backup → restore into a copy and in
place → an export whose SQL loads into a fresh PostgreSQL and whose files are the account's byte for
byte → a refused skip of a major → update to the next major → a refused downgrade → removal that
leaves nothing. And Nextcloud's shared mode: two associations each get a space (a group with its own
Team folder and storage quota, which an operator changes) in one shared instance, each admin reaches
only its own folder, and the last space's removal takes the shared instance with it.

Real parts: the provisioner in embedded mode, two sshd test servers (one runs the instances, the other
holds the restic repositories over SFTP), Docker Engine, the server's Caddy proxy with its own CA, and
restic. Stand-ins: Docker Hub cannot be reached here, so ``library/nextcloud``, ``library/postgres`` and
``library/redis`` are built from Debian packages (``tests/twins/``, each rule citing the upstream file
it reproduces) and pushed to the local registry under upstream's paths and tags; the template's own
image references resolve to them through ``PROVISIONER_IMAGE_REGISTRY``. The test's catalog is a copy
of the shipped template that new instances get at 33 (so the update to 34 runs) and that lists a 35 no
instance is ever deployed with (so the API's refusal to skip a major shows).
"""

from __future__ import annotations

import os
import shutil
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest
import yaml

from tests.support.api_client import ApiClient, new_tenant
from tests.support.exports import exported_service, loaded_into_fresh_postgresql
from tests.support.images import TEMPLATES, TWINS, build_all
from tests.support.lab import (
    add_server,
    add_sftp_target,
    approve,
    deploy_instance,
    job_succeeded,
    leftovers,
    remove_every_instance,
    remove_through_api,
    succeeded,
)
from tests.support.proxy import remove_proxies, request_by_hostname, root_ca
from tests.support.shared_spaces import two_spaces_in_one_instance
from tests.support.sshd import TestServer
from tests.support.stack import embedded_stack

pytestmark = pytest.mark.e2e

FILE = "protokoll.txt"
OCC = "php /var/www/html/occ"
POSTGRES = "library/postgres:17.9-bookworm"


@pytest.fixture(scope="module")
def twins(docker_client: docker.DockerClient, registry: str, proxy_image: str) -> dict[str, str]:
    """upstream path:tag -> where the stand-in was pushed (the template's reference through the mirror)."""
    built = {}
    for recipe in ("postgres", "redis", "nextcloud"):
        found = build_all(recipe, f"library/{recipe}", client=docker_client, registry=registry, root=TWINS)
        built |= {f"library/{recipe}:{version}": reference for version, reference in found.items()}
    return built


def _catalog(root: Path) -> Path:
    folder = root / "nextcloud"
    shutil.copytree(TEMPLATES / "nextcloud", folder)
    path = folder / "template.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["default_version"] = "33"
    raw["versions"]["35"] = raw["versions"]["34"]
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    return root


def _occ(client: docker.DockerClient, instance_id: str, command: str) -> str:
    """occ in the app container, as www-data (the owner of config.php), the way the hooks call it."""
    app = client.containers.get(f"prv-{instance_id}-app")
    result = app.exec_run(["su", "-s", "/bin/sh", "www-data", "-c", f"{OCC} {command}"])
    assert result.exit_code == 0, result.output.decode(errors="replace")
    return str(result.output.decode()).strip()


@pytest.mark.timeout(2400)
def test_nextcloud_standin_deploy_sign_in_backup_restore_update_and_remove(
    tmp_path: Path,
    ssh_servers: list[TestServer],
    twins: dict[str, str],
    registry: str,
    docker_client: docker.DockerClient,
) -> None:
    server, backup_server = ssh_servers
    assert twins["library/nextcloud:34.0.2-apache"] == f"{registry}/library/nextcloud:34.0.2-apache"
    catalog = _catalog(tmp_path / "catalog")
    with ExitStack() as cleanup:
        stack = cleanup.enter_context(
            embedded_stack(tmp_path / "data", ssh_key=server.client_key, registry=registry, templates=catalog)
        )
        operator = cleanup.enter_context(ApiClient(stack.base_url, stack.operator_token))
        server_id = add_server(operator, server, cpu=6)  # room for the instance and its copy
        cleanup.callback(remove_proxies, docker_client, [server_id])
        cleanup.callback(remove_every_instance, docker_client, operator)
        folder = backup_server.root_dir.parent / "nextcloud-backups"
        folder.mkdir(exist_ok=True)
        add_sftp_target(operator, backup_server, folder)
        verein = cleanup.enter_context(new_tenant(operator, stack.base_url, "verein-a")[1])

        # Deploy: installed on first start from NEXTCLOUD_ADMIN_* and POSTGRES_*, healthy by status.php.
        cloud = deploy_instance(operator, verein, template="nextcloud", name="cloud", server_id=server_id)
        cloud_id = cloud["id"]
        assert (cloud["state"], cloud["health"], cloud["version"]) == ("running", "healthy", "33")
        ca = root_ca(docker_client, server_id)

        def dav(
            instance: dict[str, Any], method: str, auth: tuple[str, str], body: bytes | None = None
        ) -> httpx.Response:
            path = f"/remote.php/dav/files/{auth[0]}/" + (FILE if method != "PROPFIND" else "")
            return request_by_hostname(
                method, instance["url"], address=server.address, ca_pem=ca, path=path, auth=auth, content=body
            )

        # The first admin's login, shown once, is accepted through the proxy; a wrong one is not.
        shown = verein.call("GET", f"/api/v1/instances/{cloud_id}/credentials", expect=200)
        admin = ("admin", shown["credentials"]["admin_password"])
        assert dav(cloud, "PROPFIND", admin).status_code == 207
        assert dav(cloud, "PROPFIND", ("admin", "not-the-password")).status_code == 401
        minutes = os.urandom(4096)
        assert dav(cloud, "PUT", admin, minutes).status_code == 201
        assert dav(cloud, "GET", admin).content == minutes

        # What the image made of the template's variables: config folder www-data's (uid 33), the
        # image's own config files in it, https links, Redis, and the instance network as the only
        # trusted proxy (here the test's own requests reach the proxy through Docker's port forwarder
        # on that network, so which address gets logged shows nothing; on a server it is the client's).
        app = docker_client.containers.get(f"prv-{cloud_id}-app")
        assert app.exec_run(["stat", "-c", "%u", "/var/www/html/config"]).output.decode().strip() == "33"
        assert app.exec_run(["test", "-f", "/var/www/html/config/reverse-proxy.config.php"]).exit_code == 0
        assert _occ(docker_client, cloud_id, "config:system:get overwriteprotocol") == "https"
        assert (
            _occ(docker_client, cloud_id, "config:system:get overwrite.cli.url") == "https://cloud.localhost"
        )
        assert _occ(docker_client, cloud_id, "config:system:get redis host") == "redis"
        network = docker_client.networks.get(f"prv-{cloud_id}")
        subnet = network.attrs["IPAM"]["Config"][0]["Subnet"]
        assert _occ(docker_client, cloud_id, "config:system:get trusted_proxies") == subnet
        assert _occ(docker_client, cloud_id, "config:app:get files default_quota") == "5 GB"
        assert _occ(docker_client, cloud_id, "config:app:get core backgroundjobs_mode") == "cron"

        # Backup: maintenance mode around pg_dump; the instance is usable again afterwards.
        job_succeeded(verein, verein.call("POST", f"/api/v1/instances/{cloud_id}/backups", expect=202))
        [backup] = verein.call("GET", f"/api/v1/instances/{cloud_id}/backups", expect=200)["items"]
        assert dav(cloud, "GET", admin).content == minutes

        # Into a copy: a fresh database of its own takes the dump; the copy answers at its own hostname
        # with the source's accounts and files.
        asked = verein.call(
            "POST",
            f"/api/v1/instances/{cloud_id}/restore",
            expect=202,
            json={"backup": backup["id"], "into": "new", "name": "cloud-copy"},
        )
        # The copy waits for the operator's approval like any request; approving it restores into it.
        copy_id = asked["instance"]["id"]
        assert succeeded(operator, approve(operator, copy_id, server_id))["kind"] == "restore"
        copy = verein.call("GET", f"/api/v1/instances/{copy_id}", expect=200)
        assert (copy["state"], copy["health"]) == ("running", "healthy")
        assert copy["hostname"] != cloud["hostname"]
        assert dav(copy, "GET", admin).content == minutes

        # In place, after the file and its database row are gone.
        app.exec_run(["rm", f"/var/www/html/data/admin/files/{FILE}"])
        db = docker_client.containers.get(f"prv-{cloud_id}-db")
        emptied = db.exec_run(
            ["psql", "-U", "nextcloud", "-d", "nextcloud", "-c", "DELETE FROM oc_filecache"]
        )
        assert emptied.exit_code == 0, emptied.output
        assert dav(cloud, "GET", admin).status_code == 404
        job_succeeded(
            verein,
            verein.call(
                "POST", f"/api/v1/instances/{cloud_id}/restore", expect=202, json={"backup": backup["id"]}
            ),
        )
        restored = verein.call("GET", f"/api/v1/instances/{cloud_id}", expect=200)
        assert (restored["state"], restored["health"]) == ("running", "healthy")
        assert dav(cloud, "GET", admin).content == minutes

        # An export (from a fresh backup, after the restores above: retention keeps one a day): the
        # database loads into a fresh PostgreSQL and lists the file, the file is the account's.
        parts = ["database", "files"]
        exported = exported_service(
            verein, restored, data_dir=tmp_path / "data", into=tmp_path / "export", parts=parts
        )
        in_export = exported.top / "cloud" / "files" / "admin" / "files" / FILE
        assert in_export.read_bytes() == minutes
        assert not list((exported.top / "cloud" / "files").glob("nextcloud.log"))
        assert exported.parts["database"]["dialect"] == "postgresql"
        dump = (exported.top / exported.parts["database"]["path"]).read_bytes()
        listed = "SELECT size FROM oc_filecache WHERE path = 'files/admin/protokoll.txt'"
        assert loaded_into_fresh_postgresql(docker_client, twins[POSTGRES], dump, listed) == str(len(minutes))

        # Updates: one major at a time and never back, refused at the API naming the field.
        skip = verein.http.post(f"/api/v1/instances/{cloud_id}/update", json={"version": "35"})
        assert skip.status_code == 422, skip.text
        assert skip.json()["errors"][0]["field"] == "body.version"
        job_succeeded(
            verein,
            verein.call("POST", f"/api/v1/instances/{cloud_id}/update", expect=202, json={"version": "34"}),
        )
        updated = verein.call("GET", f"/api/v1/instances/{cloud_id}", expect=200)
        assert (updated["state"], updated["health"], updated["version"]) == ("running", "healthy", "34")
        status = request_by_hostname(
            "GET", cloud["url"], address=server.address, ca_pem=ca, path="/status.php"
        )
        assert (status.json()["versionstring"], status.json()["needsDbUpgrade"]) == ("34.0.2", False)
        assert dav(cloud, "GET", admin).content == minutes
        back = verein.http.post(f"/api/v1/instances/{cloud_id}/update", json={"version": "33"})
        assert back.status_code == 422, back.text
        assert back.json()["errors"][0]["field"] == "body.version"

        # The previous image refuses the newer data (why a rollback must restore the backup first).
        previous = docker_client.containers.run(
            twins["library/nextcloud:33.0.7-apache"],
            volumes={f"prv-{cloud_id}-html": {"bind": "/var/www/html", "mode": "ro"}},
            detach=True,
        )
        try:
            assert previous.wait(timeout=120)["StatusCode"] == 1
            assert b"downgrading is not supported" in previous.logs()
        finally:
            previous.remove(force=True)

        # Removal leaves no container, network or volume, and no route in the proxy.
        for instance_id in (cloud_id, copy["id"]):
            remove_through_api(verein, instance_id)
            assert leftovers(docker_client, instance_id) == []
            assert not (server.root_dir / "proxy" / "sites" / f"{instance_id}.caddy").exists()
            assert not (server.root_dir / "instances" / instance_id).exists()


def _rows(client: docker.DockerClient, instance_id: str, sql: str) -> list[str]:
    """Rows of the shared instance's database, one per line, columns joined by |."""
    db = client.containers.get(f"prv-{instance_id}-db")
    result = db.exec_run(["psql", "-U", "nextcloud", "-d", "nextcloud", "-tA", "-c", sql])
    assert result.exit_code == 0, result.output.decode(errors="replace")
    return [line for line in result.output.decode().splitlines() if line]


# The shared instance's deploy, two spaces made in it and two removed, the last with the instance.
@pytest.mark.timeout(1500)
def test_two_associations_each_get_a_group_folder_in_one_shared_nextcloud_standin(
    tmp_path: Path,
    ssh_servers: list[TestServer],
    twins: dict[str, str],
    registry: str,
    docker_client: docker.DockerClient,
) -> None:
    server = ssh_servers[0]
    with ExitStack() as cleanup:
        stack = cleanup.enter_context(
            embedded_stack(
                tmp_path / "data",
                ssh_key=server.client_key,
                registry=registry,
                templates=_catalog(tmp_path / "catalog"),
            )
        )
        operator = cleanup.enter_context(ApiClient(stack.base_url, stack.operator_token))
        server_id = add_server(operator, server, cpu=4)
        cleanup.callback(remove_proxies, docker_client, [server_id])
        cleanup.callback(remove_every_instance, docker_client, operator)
        admins, spaces, shared_id = two_spaces_in_one_instance(
            cleanup,
            stack.base_url,
            operator,
            template="nextcloud",
            name="cloud",
            server_id=server_id,
            quota={"storage_mb": 1},
        )
        ca = root_ca(docker_client, server_id)

        def dav(slug: str, method: str, path: str, body: bytes | None = None) -> httpx.Response:
            """WebDAV at the space's own address, signed in as the space's admin."""
            user, password = logins[slug]
            return request_by_hostname(
                method,
                spaces[slug]["url"],
                address=server.address,
                ca_pem=ca,
                path=f"/remote.php/dav/files/{user}/{path}",
                auth=(user, password),
                content=body,
            )

        # Each space's admin, shown once, signs in at the space's address and writes into its
        # association's Team folder, within the space's quota (1 MB) and not past it.
        logins: dict[str, tuple[str, str]] = {}
        for slug, admin in admins.items():
            space = spaces[slug] = admin.call("GET", f"/api/v1/spaces/{spaces[slug]['id']}", expect=200)
            assert (space["state"], space["health"], space["separable_data"]) == ("running", "healthy", False)
            assert space["quota"]["enforced"] == ["storage"]
            shown = admin.call("POST", f"/api/v1/spaces/{space['id']}/credentials", expect=200)
            logins[slug] = (shown["user"], shown["password"])
            assert (
                dav(slug, "PUT", f"cloud-{slug}/protokoll.txt", f"minutes of {slug}".encode()).status_code
                == 201
            )
            assert dav(slug, "GET", f"cloud-{slug}/protokoll.txt").content == f"minutes of {slug}".encode()
            assert dav(slug, "PUT", f"cloud-{slug}/video.bin", os.urandom(1536 * 1024)).status_code == 507
        # The operator raises space a's storage to 3 MB: the change job sets its Team folder's quota
        # anew (groupfolders:quota); what b's quota refused stays refused for b alone.
        space_a = f"/api/v1/spaces/{spaces['verein-a']['id']}"
        changed = operator.call("PATCH", space_a, expect=202, json={"quota": {"storage_mb": 3}})
        done, _ = operator.wait_for_job(changed["job"]["id"])
        assert done["status"] == "succeeded", done["error"]
        assert operator.call("GET", space_a, expect=200)["quota"]["storage_mb"] == 3
        assert dav("verein-a", "PUT", "cloud-verein-a/video.bin", os.urandom(1536 * 1024)).status_code == 201
        assert dav("verein-b", "PUT", "cloud-verein-b/video.bin", os.urandom(1536 * 1024)).status_code == 507
        # Neither reaches the other's folder; each is the admin of its own group only.
        assert dav("verein-a", "GET", "cloud-verein-b/protokoll.txt").status_code == 404
        assert dav("verein-b", "PUT", "cloud-verein-a/note.txt", b"not mine").status_code == 404
        assert _rows(docker_client, shared_id, "SELECT gid, uid FROM oc_group_admin ORDER BY gid") == [
            "cloud-verein-a|admin-cloud-verein-a",
            "cloud-verein-b|admin-cloud-verein-b",
        ]

        # Removing space a takes its group, its folder with the files and its admin; b stays.
        removal = admins["verein-a"].call("DELETE", f"/api/v1/spaces/{spaces['verein-a']['id']}", expect=202)
        done, _ = admins["verein-a"].wait_for_job(removal["job"]["id"])
        assert done["status"] == "succeeded", done["error"]
        assert _rows(docker_client, shared_id, "SELECT mount_point FROM oc_group_folders") == [
            "cloud-verein-b"
        ]
        assert _rows(
            docker_client, shared_id, "SELECT count(*) FROM oc_users WHERE uid = 'admin-cloud-verein-a'"
        ) == ["0"]
        assert "cloud-verein-a" not in _occ(docker_client, shared_id, "group:list --output=json")
        assert operator.call("GET", f"/api/v1/instances/{shared_id}", expect=200)["state"] == "running"
        assert dav("verein-b", "GET", "cloud-verein-b/protokoll.txt").status_code == 200

        # The last space takes the shared instance with it.
        removal = admins["verein-b"].call("DELETE", f"/api/v1/spaces/{spaces['verein-b']['id']}", expect=202)
        done, _ = admins["verein-b"].wait_for_job(removal["job"]["id"])
        assert done["status"] == "succeeded", done["error"]
        assert operator.call("GET", f"/api/v1/instances/{shared_id}", expect=200)["state"] == "removed"
        assert leftovers(docker_client, shared_id) == []
