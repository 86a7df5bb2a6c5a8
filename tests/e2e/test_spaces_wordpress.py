"""Two associations, one WordPress: each gets a space (a site of a shared WordPress network) at its own
address, its admin signs in there and cannot administer the other's; one space is backed up alone,
changed and restored while the other's content stays as it is, then exported alone (its site's tables
and uploads in an archive, the other site's content not); the other's upload space is changed by
the operator, which WordPress enforces for that site alone; the first then moves into a dedicated
WordPress of its association's own, content and files at the new address, its admin signing in there;
and the shared instance goes with its last space.

Real parts: the provisioner in embedded mode with its worker and job engine, two sshd test servers (one
runs the instances, the other is the backup server restic reaches over SFTP), Docker Engine, WordPress
and MariaDB built from Debian packages, pulled from the local registry, restic from Debian, and the
server's Caddy proxy with its own CA.
"""

from __future__ import annotations

import hashlib
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from tests.support.api_client import ApiClient, new_tenant
from tests.support.exports import unpacked
from tests.support.lab import (
    INSTANCE_LABEL,
    add_server,
    add_sftp_target,
    job_succeeded,
    remove_every_instance,
)
from tests.support.proxy import get_by_hostname, remove_proxies, root_ca
from tests.support.sshd import TestServer
from tests.support.stack import embedded_stack
from tests.support.wordpress import (
    add_post,
    dashboard_status,
    file_sha256,
    posts,
    put_file,
    sign_in,
    site_php,
    uploads_dir,
)

pytestmark = pytest.mark.e2e

FLYER = "2026/11/flyer.bin"


def _write_content(client: docker.DockerClient, shared_id: str, slug: str, url: str) -> tuple[str, str]:
    """A post linking to an uploaded file in the space's site; the folder and the file's checksum."""
    host = f"{slug}.localhost"
    folder = uploads_dir(client, shared_id, host)
    put_file(client, shared_id, f"{folder}/2026/11", "flyer.bin", f"flyer of {slug}".encode())
    # The link as WordPress's media library writes it: the site's address and its uploads folder.
    link = f"{url}wp-content/uploads/{folder.split('/uploads/', 1)[1]}/{FLYER}"
    add_post(client, shared_id, host, title=f"news of {slug}", content=f'<a href="{link}">flyer</a>')
    checksum = file_sha256(client, shared_id, f"{folder}/{FLYER}")
    assert checksum is not None
    return folder, checksum


# Three deploys (the shared instance, its two spaces; the dedicated instance), a backup, a restore, an
# export and a move: longer than the suite's default limit on a busy machine.
@pytest.mark.timeout(1800)
def test_two_spaces_share_one_wordpress_each_admin_only_in_its_own_and_the_last_removal_takes_it(
    tmp_path: Path,
    ssh_servers: list[TestServer],
    wordpress_images: dict[str, str],
    registry: str,
    docker_client: docker.DockerClient,
) -> None:
    server, backup_server = ssh_servers
    with ExitStack() as cleanup:
        stack = cleanup.enter_context(embedded_stack(tmp_path, ssh_key=server.client_key, registry=registry))
        operator = cleanup.enter_context(ApiClient(stack.base_url, stack.operator_token))
        # Room for the shared instance and the dedicated one a space moves into.
        server_id = add_server(operator, server, cpu=3)
        add_sftp_target(operator, backup_server, backup_server.root_dir / "backups")
        cleanup.callback(remove_proxies, docker_client, [server_id])
        # Whatever a failure leaves (the shared instance), while the API still answers.
        cleanup.callback(remove_every_instance, docker_client, operator)
        operator.call(
            "PUT", "/api/v1/catalog/wordpress/modes", expect=200, json={"modes": ["dedicated", "shared"]}
        )
        spaces: dict[str, dict[str, Any]] = {}
        admins: dict[str, ApiClient] = {}
        for slug in ("verein-a", "verein-b"):
            admins[slug] = cleanup.enter_context(new_tenant(operator, stack.base_url, slug)[1])
            spaces[slug] = admins[slug].call(
                "POST",
                "/api/v1/spaces",
                expect=201,
                json={"template": "wordpress", "name": "web", "subdomain": slug},
            )
        jobs = [
            operator.call(
                "POST",
                f"/api/v1/spaces/{spaces[slug]['id']}/approve",
                expect=202,
                json={"server": server_id},
            )["job"]
            for slug in spaces
        ]
        for slug, job in zip(spaces, jobs, strict=True):
            done, _ = admins[slug].wait_for_job(job["id"], timeout=500)
            assert done["status"] == "succeeded", done["error"]
        shared_id = jobs[0]["instance"]
        assert jobs[1]["instance"] == shared_id  # the second space went into the first's instance
        shared = operator.call("GET", f"/api/v1/instances/{shared_id}", expect=200)
        assert (shared["state"], shared["health"]) == ("running", "healthy")
        ca = root_ca(docker_client, server_id)

        # Each association's admin, shown once, signs in to its own site and is refused at the other's.
        signed_in = {}
        for slug, admin in admins.items():
            space = spaces[slug] = admin.call("GET", f"/api/v1/spaces/{spaces[slug]['id']}", expect=200)
            assert (space["state"], space["health"], space["url"]) == (
                "running",
                "healthy",
                f"https://{slug}.localhost/",
            )
            shown = admin.call("POST", f"/api/v1/spaces/{space['id']}/credentials", expect=200)
            own = sign_in(space["url"], shown["user"], shown["password"], address=server.address, ca_pem=ca)
            assert dashboard_status(space["url"], own, address=server.address, ca_pem=ca) == 200
            signed_in[slug] = shown
        other = sign_in(
            "https://verein-b.localhost/",
            signed_in["verein-a"]["user"],
            signed_in["verein-a"]["password"],
            address=server.address,
            ca_pem=ca,
        )
        assert (
            dashboard_status("https://verein-b.localhost/", other, address=server.address, ca_pem=ca) == 403
        )

        # Content in both spaces: a post linking to an uploaded file.
        content = {
            slug: _write_content(docker_client, shared_id, slug, spaces[slug]["url"]) for slug in spaces
        }
        a_id, b_host = spaces["verein-a"]["id"], "verein-b.localhost"
        before = posts(docker_client, shared_id, "verein-a.localhost")

        # Space a is backed up alone, into its association's own repository, then changed (b too).
        job_succeeded(
            admins["verein-a"], admins["verein-a"].call("POST", f"/api/v1/spaces/{a_id}/backups", expect=202)
        )
        backups = admins["verein-a"].call("GET", f"/api/v1/spaces/{a_id}/backups", expect=200)["items"]
        assert [b["status"] for b in backups] == ["succeeded"]
        assert admins["verein-b"].http.get(f"/api/v1/spaces/{a_id}/backups").status_code == 404
        a_folder, a_flyer = content["verein-a"]
        put_file(docker_client, shared_id, f"{a_folder}/2026/11", "flyer.bin", b"changed after the backup")
        add_post(
            docker_client, shared_id, "verein-a.localhost", title="written after the backup", content="x"
        )
        add_post(docker_client, shared_id, b_host, title="b after a's backup", content="kept")
        b_before_restore = posts(docker_client, shared_id, b_host)

        # Its restore brings space a back as it was, and leaves space b as it is now.
        restore = admins["verein-a"].call(
            "POST", f"/api/v1/spaces/{a_id}/restores", expect=202, json={"backup": backups[0]["id"]}
        )
        job_succeeded(admins["verein-a"], restore)
        assert posts(docker_client, shared_id, "verein-a.localhost") == before
        assert file_sha256(docker_client, shared_id, f"{a_folder}/{FLYER}") == a_flyer
        assert posts(docker_client, shared_id, b_host) == b_before_restore
        b_folder, b_flyer = content["verein-b"]
        assert file_sha256(docker_client, shared_id, f"{b_folder}/{FLYER}") == b_flyer
        shown = signed_in["verein-a"]
        assert sign_in(
            spaces["verein-a"]["url"], shown["user"], shown["password"], address=server.address, ca_pem=ca
        )

        # An export of space a alone: its site's tables as SQL (its post, not b's) and its uploads byte
        # for byte, from a fresh backup of the space; the other association reaches none of it.
        assert admins["verein-b"].http.post(f"/api/v1/spaces/{a_id}/exports").status_code == 404
        exported = admins["verein-a"].call("POST", f"/api/v1/spaces/{a_id}/exports", expect=202)
        job_succeeded(admins["verein-a"], exported)
        export = admins["verein-a"].call("GET", f"/api/v1/exports/{exported['export']['id']}", expect=200)
        assert (export["state"], export["scope"], export["space"]) == ("ready", "space", a_id)
        assert admins["verein-b"].http.get(export["download"]).status_code == 404
        archive = admins["verein-a"].http.get(export["download"]).content
        assert hashlib.sha256(archive).hexdigest() == export["sha256"]
        top, manifest = unpacked(archive, tmp_path / "space-export")
        [entry] = manifest["services"]
        assert (entry["space"], [p["name"] for p in entry["parts"]]) == (
            True,
            ["configuration", "tables", "members", "uploads"],
        )
        tables = (top / "spaces/web/tables.sql").read_text()
        assert "news of verein-a" in tables
        assert "news of verein-b" not in tables
        assert "b after a's backup" not in tables
        assert hashlib.sha256((top / "spaces/web/uploads" / FLYER).read_bytes()).hexdigest() == a_flyer
        assert "Webseite" in (top / "README.txt").read_text()  # the association's language: German

        # The operator gives space b a smaller upload space: WordPress's own check reads it at once.
        b_id = spaces["verein-b"]["id"]
        allowed = "echo get_space_allowed();"
        # Neither was given a limit: the network's default (populate_network's blog_upload_space).
        network_default = site_php(docker_client, shared_id, b_host, allowed)
        assert network_default == "100"
        changed = operator.call(
            "PATCH", f"/api/v1/spaces/{b_id}", expect=202, json={"quota": {"storage_mb": 5}}
        )
        job_succeeded(operator, changed)
        assert site_php(docker_client, shared_id, b_host, allowed) == "5"
        assert site_php(docker_client, shared_id, "verein-a.localhost", allowed) == network_default
        assert operator.call("GET", f"/api/v1/spaces/{b_id}", expect=200)["quota"]["storage_mb"] == 5

        # Space a moves into a dedicated WordPress of its association's own, at a new address.
        moved = operator.call(
            "POST",
            f"/api/v1/spaces/{a_id}/move-to-dedicated",
            expect=202,
            json={"subdomain": "verein-a-site"},
        )
        job_succeeded(operator, moved)
        dedicated = admins["verein-a"].call("GET", f"/api/v1/instances/{moved['instance']['id']}", expect=200)
        assert (dedicated["state"], dedicated["url"]) == ("running", "https://verein-a-site.localhost/")
        there = posts(docker_client, dedicated["id"], "localhost")
        assert set(there) == set(before)
        # Links to the site's files follow it to the new address and the single site's uploads folder.
        new_flyer = f"{dedicated['url']}wp-content/uploads/{FLYER}"
        assert there["news of verein-a"] == f'<a href="{new_flyer}">flyer</a>'
        served = get_by_hostname(
            dedicated["url"], address=server.address, ca_pem=ca, path=f"/wp-content/uploads/{FLYER}"
        )
        assert (served.status_code, served.content) == (200, b"flyer of verein-a")
        assert (
            site_php(docker_client, dedicated["id"], "localhost", "echo home_url('/');") == dedicated["url"]
        )
        # The space's admin signs in at the new address and administers the site there.
        own = sign_in(dedicated["url"], shown["user"], shown["password"], address=server.address, ca_pem=ca)
        assert dashboard_status(dedicated["url"], own, address=server.address, ca_pem=ca) == 200
        # The space is gone from the shared instance, with its address; space b stays.
        assert admins["verein-a"].call("GET", f"/api/v1/spaces/{a_id}", expect=200)["state"] == "removed"
        with pytest.raises(httpx.HTTPError):
            get_by_hostname(
                "https://verein-a.localhost/", address=server.address, ca_pem=ca, path="/wp-login.php"
            )
        page = get_by_hostname(
            "https://verein-b.localhost/", address=server.address, ca_pem=ca, path="/wp-login.php"
        )
        assert page.status_code == 200
        assert operator.call("GET", f"/api/v1/instances/{shared_id}", expect=200)["state"] == "running"

        # The last space takes the shared instance with it.
        removal = admins["verein-b"].call("DELETE", f"/api/v1/spaces/{spaces['verein-b']['id']}", expect=202)
        done, _ = admins["verein-b"].wait_for_job(removal["job"]["id"])
        assert done["status"] == "succeeded", done["error"]
        assert operator.call("GET", f"/api/v1/instances/{shared_id}", expect=200)["state"] == "removed"
        label = {"label": f"{INSTANCE_LABEL}={shared_id}"}
        assert docker_client.containers.list(all=True, filters=label) == []
        assert docker_client.volumes.list(filters=label) == []
        # Other tests on this server leave routes of their own: only the shared instance's must be gone.
        assert not (server.root_dir / "proxy" / "sites" / f"{shared_id}.caddy").exists()
