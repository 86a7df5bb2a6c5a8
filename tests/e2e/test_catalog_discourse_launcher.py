"""Discourse's whole lifecycle through its upstream launcher, run by the job engine end to end — with a
STAND-IN launcher and a STAND-IN image (tests/twins/discourse), because GitHub (discourse_docker,
discourse) and Docker Hub (discourse/base) cannot be reached here.

The stand-ins play upstream's documented behaviour where the engine touches it, each rule citing its
upstream file: the launcher's command line and steps (bootstrap, commit as local_discourse/NAME, start
with the definition's env, labels, volumes and docker_args; refusing a definition without
params.version, where upstream would build branch `latest`), `discourse backup` writing a .tar.gz into
/shared/backups/default, `discourse restore FILE` refusing until `enable_restore` and for a file not in
the store, `rake admin:create` asking its questions, `rake emails:test` sending through the SMTP
settings, /srv/status and a login with CSRF token. The shipped template is used as is, except that its
launcher points at the stand-in repository and new instances start one release back (2026.6), so the
update has somewhere to go. Everything else is real: the provisioner in embedded mode, an sshd test
server, Docker Engine, deploy.yml with the template's launcher tasks, the server's Caddy proxy, restic
backups over SFTP to a second test server, and remove.yml.
"""

from __future__ import annotations

import hashlib
import ipaddress
import shlex
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml

from provisioner.config import Settings
from provisioner.images import build_image
from tests.support.api_client import ApiClient, new_tenant
from tests.support.exports import exported_service
from tests.support.images import IMAGE_CACHE, TWINS
from tests.support.lab import (
    add_server,
    add_sftp_target,
    approve,
    job_succeeded,
    leftovers,
    remove_every_instance,
    remove_through_api,
    request_instance,
    succeeded,
)
from tests.support.proxy import get_by_hostname, remove_proxies, request_by_hostname, root_ca
from tests.support.smtp_sink import smtp_sink
from tests.support.sshd import TestServer
from tests.support.stack import embedded_stack

pytestmark = pytest.mark.e2e

STAND_IN = TWINS / "discourse"
ADMIN = "vorstand@verein.example"


@pytest.fixture(scope="module")
def stand_in_image(docker_client: docker.DockerClient, registry: str, proxy_image: str) -> str:
    return build_image(
        STAND_IN,
        name="provisioner/discourse-stand-in",
        version="stand-in",
        registry=registry,
        cache_dir=IMAGE_CACHE,
        client=docker_client,
    )


def _git(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=True)


def stand_in_launcher_repository(folder: Path, image: str) -> str:
    """A git repository with the stand-in launcher (and upstream's template names); returns its commit."""
    shutil.copytree(STAND_IN / "launcher", folder)
    script = folder / "launcher"
    script.write_text(script.read_text().replace("@IMAGE@", image))
    _git(folder, "init", "-q", "-b", "main")
    _git(folder, "add", "-A")
    _git(folder, "-c", "user.name=test", "-c", "user.email=test@example.org", "commit", "-qm", "stand-in")
    # A pinned commit is fetched by its id, as from GitHub.
    _git(folder, "config", "uploadpack.allowAnySHA1InWant", "true")
    return _git(folder, "rev-parse", "HEAD").stdout.strip()


def templates_with_stand_in(root: Path, repository: Path, commit: str) -> Path:
    templates = root / "templates"
    shutil.copytree(Settings().resolved_templates_dir / "discourse", templates / "discourse")
    path = templates / "discourse" / "template.yaml"
    document = yaml.safe_load(path.read_text())
    document["launcher"] |= {"repository": f"file://{repository}", "ref": commit}
    document["default_version"] = "2026.6"
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    return templates


def login(instance: dict[str, Any], *, address: str, ca: str, password: str) -> int:
    """Signs in through the proxy as a browser does (CSRF token first); the status of the login."""
    url = instance["url"]
    csrf = request_by_hostname("GET", url, address=address, ca_pem=ca, path="/session/csrf")
    assert csrf.status_code == 200
    answer = request_by_hostname(
        "POST",
        url,
        address=address,
        ca_pem=ca,
        path="/session",
        data={"login": ADMIN, "password": password},
        cookies=dict(csrf.cookies),
        headers={"X-CSRF-Token": csrf.json()["csrf"]},
    )
    if answer.status_code == 200:
        assert answer.json()["user"]["admin"] is True
    return answer.status_code


def in_app(client: docker.DockerClient, instance_id: str, *argv: str, stdin: str = "") -> tuple[int, str]:
    """A command in the launcher's container, as the engine's hooks run them (docker exec)."""
    container = client.containers.get(f"prv-{instance_id}-app")
    if not stdin:
        done = container.exec_run(list(argv))
        return done.exit_code, done.output.decode()
    script = f"printf '%s' {shlex.quote(stdin)} | {shlex.join(argv)}"
    done = container.exec_run(["sh", "-c", script])
    return done.exit_code, done.output.decode()


@pytest.fixture
def bridge_address(docker_client: docker.DockerClient) -> str:
    """The host's address on Docker's default bridge: containers reach the test SMTP sink there."""
    config = docker_client.networks.get("bridge").attrs["IPAM"]["Config"][0]
    # Docker names the gateway only when it was configured; otherwise it is the subnet's first address.
    return str(config.get("Gateway") or next(ipaddress.ip_network(config["Subnet"]).hosts()))


@pytest.fixture
def mail_sink(bridge_address: str) -> Iterator[Any]:
    with smtp_sink(bridge_address) as sink:
        yield sink


# Eight deploy-sized jobs (deploy, backup, restore in place, restore into a copy with its deploy,
# update with its backup, two removals): longer than the suite's default limit on a busy machine.
@pytest.mark.timeout(1800)
def test_discourse_stand_in_lives_through_deploy_admin_backup_restores_update_and_removal(
    tmp_path: Path,
    ssh_servers: list[TestServer],
    stand_in_image: str,
    registry: str,
    docker_client: docker.DockerClient,
    mail_sink: Any,
) -> None:
    server, backup_server = ssh_servers
    repository = tmp_path / "discourse_docker"
    commit = stand_in_launcher_repository(repository, stand_in_image)
    templates = templates_with_stand_in(tmp_path, repository, commit)

    # The stand-in launcher refuses a definition that names no release (upstream: builds `latest`).
    (repository / "containers" / "unpinned.yml").write_text("templates: []\nparams: {}\n")
    unpinned = subprocess.run(
        ["./launcher", "rebuild", "unpinned", "--skip-prereqs"],
        check=False,
        cwd=repository,
        capture_output=True,
        text=True,
    )
    assert unpinned.returncode != 0
    assert "no params.version" in unpinned.stderr
    (repository / "containers" / "unpinned.yml").unlink()

    with ExitStack() as cleanup:
        stack = cleanup.enter_context(
            embedded_stack(
                tmp_path / "data",
                ssh_key=server.client_key,
                registry=registry,
                env={"PROVISIONER_TEMPLATES_DIR": str(templates), **mail_sink.env()},
            )
        )
        operator = cleanup.enter_context(ApiClient(stack.base_url, stack.operator_token))
        server_id = add_server(operator, server, cpu=4)
        cleanup.callback(remove_proxies, docker_client, [server_id])
        cleanup.callback(remove_every_instance, docker_client, operator)
        cleanup.callback(_remove_built_images, docker_client)
        add_sftp_target(operator, backup_server, backup_server.root_dir / "backups")
        verein = cleanup.enter_context(new_tenant(operator, stack.base_url, "verein-forum")[1])

        # Deploy: built by the launcher at the pinned commit, healthy through the proxy.
        parameters = {"admin_email": ADMIN}
        forum_id = request_instance(verein, template="discourse", name="forum", parameters=parameters)["id"]
        succeeded(operator, approve(operator, forum_id, server_id))
        forum = verein.call("GET", f"/api/v1/instances/{forum_id}", expect=200)
        assert (forum["state"], forum["health"], forum["version"]) == ("running", "healthy", "2026.6")
        ca = root_ca(docker_client, server_id)
        status = get_by_hostname(forum["url"], address=server.address, ca_pem=ca, path="/srv/status")
        assert (status.status_code, status.text) == (200, "ok")
        about = get_by_hostname(forum["url"], address=server.address, ca_pem=ca, path="/about.json")
        assert about.json()["about"]["version"] == "2026.6.0"
        launcher_dir = server.root_dir / "instances" / forum_id / "discourse_docker"
        assert _git(launcher_dir, "rev-parse", "HEAD").stdout.strip() == commit
        [container] = docker_client.containers.list(filters={"label": f"org.provisioner.instance={forum_id}"})
        assert f"local_discourse/prv-{forum_id}-app:latest" in container.image.tags
        assert not container.attrs["HostConfig"]["PortBindings"]
        assert container.attrs["HostConfig"]["Memory"] == 2048 * 1024 * 1024

        # The first admin exists right away: the password shown once signs in by e-mail address.
        shown = verein.call("GET", f"/api/v1/instances/{forum_id}/credentials", expect=200)
        password = shown["credentials"]["admin_password"]
        assert login(forum, address=server.address, ca=ca, password=password) == 200
        assert login(forum, address=server.address, ca=ca, password=password[::-1]) == 403

        # Mail leaves through the lab's SMTP account.
        assert in_app(docker_client, forum_id, "rake", "emails:test[kasse@verein.example]")[0] == 0
        [mail] = mail_sink.wait_for(1, to="kasse@verein.example")  # beside the lab's own notices
        assert (mail["To"], mail["From"]) == ("kasse@verein.example", Settings().smtp_from)

        # Upstream's restore refuses without enable_restore, and for a file not in the store.
        code, output = in_app(docker_client, forum_id, "discourse", "restore", "missing.tar.gz")
        assert code != 0
        assert "Restores are not allowed" in output

        # Backup: upstream's archive in /shared/backups/default, then the volume to restic.
        job_succeeded(verein, verein.call("POST", f"/api/v1/instances/{forum_id}/backups", expect=202))
        code, listing = in_app(docker_client, forum_id, "ls", "/shared/backups/default")
        assert code == 0
        assert [name for name in listing.split() if name.endswith(".tar.gz")]
        [backup] = verein.call("GET", f"/api/v1/instances/{forum_id}/backups", expect=200)["items"]
        assert (backup["status"], backup["version"]) == ("succeeded", "2026.6")

        # After the backup the admin's password changes (someone reset it inside the forum).
        answers = f"{ADMIN}\nY\n{'x' * 20}\n{'x' * 20}\nY\n"
        assert in_app(docker_client, forum_id, "rake", "admin:create", stdin=answers)[0] == 0
        assert login(forum, address=server.address, ca=ca, password=password) == 403

        # Restore in place: the volume back, then upstream's restore of the newest archive.
        job_succeeded(
            verein,
            verein.call(
                "POST", f"/api/v1/instances/{forum_id}/restore", expect=202, json={"backup": backup["id"]}
            ),
        )
        assert login(forum, address=server.address, ca=ca, password=password) == 200
        code, _ = in_app(docker_client, forum_id, "discourse", "restore", "missing.tar.gz")
        assert code != 0  # disabled again after the restore

        # Restore into a copy: asked by the association, approved by the lab like any request, a
        # second forum with the backed-up accounts on its own address and a first admin password of its
        # own (the template's reset steps run after the restore).
        asked = verein.call(
            "POST",
            f"/api/v1/instances/{forum_id}/restore",
            expect=202,
            json={"backup": backup["id"], "into": "new", "name": "forum-copy"},
        )
        assert succeeded(operator, approve(operator, asked["instance"]["id"], server_id))["kind"] == "restore"
        cloned = {"instance": asked["instance"]["id"]}
        copy = verein.call("GET", f"/api/v1/instances/{cloned['instance']}", expect=200)
        assert (copy["state"], copy["health"]) == ("running", "healthy")
        assert copy["hostname"] != forum["hostname"]
        copy_shown = verein.call("GET", f"/api/v1/instances/{copy['id']}/credentials", expect=200)
        copy_password = copy_shown["credentials"]["admin_password"]
        assert copy_password != password
        assert login(copy, address=server.address, ca=ca, password=copy_password) == 200
        assert login(copy, address=server.address, ca=ca, password=password) == 403
        assert login(forum, address=server.address, ca=ca, password=password) == 200

        # An export (from a fresh backup, after the restores above: retention keeps one a day) holds
        # Discourse's own backup files, the format another Discourse restores, each the forum's byte for
        # byte; the newest holds the database with the admin's account.
        exported = exported_service(
            verein, forum, data_dir=tmp_path / "data", into=tmp_path / "export", parts=["backups"]
        )
        in_export = sorted((exported.top / "forum" / "backups").glob("*.tar.gz"))
        code, on_server = in_app(
            docker_client, forum_id, "sh", "-c", "cd /shared/backups/default && sha256sum *.tar.gz"
        )
        assert code == 0
        assert sorted(on_server.split()[1::2]) == [path.name for path in in_export]
        assert all(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}" in on_server for p in in_export)
        with tarfile.open(in_export[-1]) as newest:
            dump = newest.extractfile("dump.sql")
            assert dump is not None
            assert ADMIN in dump.read().decode()

        # Update: the launcher rebuilds with the next release; the data stays. No way back.
        job_succeeded(
            verein,
            verein.call(
                "POST", f"/api/v1/instances/{forum_id}/update", expect=202, json={"version": "2026.7"}
            ),
        )
        forum = verein.call("GET", f"/api/v1/instances/{forum_id}", expect=200)
        assert (forum["state"], forum["health"], forum["version"]) == ("running", "healthy", "2026.7")
        about = get_by_hostname(forum["url"], address=server.address, ca_pem=ca, path="/about.json")
        assert about.json()["about"]["version"] == "2026.7.0"
        assert login(forum, address=server.address, ca=ca, password=password) == 200
        downgrade = verein.http.post(f"/api/v1/instances/{forum_id}/update", json={"version": "2026.6"})
        assert downgrade.status_code == 422
        assert downgrade.json()["errors"][0]["field"] == "body.version"

        # Removal leaves nothing: containers, network, volumes, the launcher's image and folder, route.
        for instance_id in (forum_id, copy["id"]):
            remove_through_api(verein, instance_id)
            assert leftovers(docker_client, instance_id) == []
            assert docker_client.images.list(name=f"local_discourse/prv-{instance_id}-app") == []
            assert not (server.root_dir / "instances" / instance_id).exists()
            assert not (server.root_dir / "proxy" / "sites" / f"{instance_id}.caddy").exists()


def _remove_built_images(client: docker.DockerClient) -> None:
    """Only after a failed run: the images the stand-in launcher committed."""
    for image in client.images.list(name="local_discourse/*"):
        client.images.remove(image.id, force=True)
