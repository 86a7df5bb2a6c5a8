"""Mattermost and HedgeDoc side by side in one lab, each through its whole life on stand-in images, their
jobs two at a time as the worker runs them: deploy → healthy → the first admin's credentials accepted
through the proxy (and open sign-up refused) → backup → restore in place and into a copy → an export
whose SQL loads into a fresh PostgreSQL holding the account written, whose files are the service's
byte for byte and (Mattermost) whose bulk export lists the account → update to the next version (a
downgrade refused) → remove leaving nothing. Each has an association of its own. And Mattermost's shared
mode: two associations each get a space (a private team) in one shared instance, each admin sees only
its own team, and the last space's removal takes the shared instance with it.

Stand-ins: the upstream images (Docker Hub, quay.io) cannot be pulled here, so `tests/twins/mattermost`,
`tests/twins/hedgedoc` and `tests/twins/postgres` are built from Debian packages, reproduce the upstream
start-up contract the templates rely on (each rule cites its upstream file) and are pushed to the local
registry under the upstream names and tags. The test catalog is a copy of each shipped template that
starts new instances at the older of its two newest versions (so there is an update to make) and runs
the PostgreSQL stand-in's tag; everything else is the shipped template.

Real parts: the provisioner in embedded mode, two sshd test servers (one runs the instances, the other
holds the restic repository over SFTP), Docker Engine, the server's Caddy proxy with its own CA.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest
import yaml

from tests.support.api_client import ApiClient, new_tenant
from tests.support.exports import Exported, exported_service, loaded_into_fresh_postgresql
from tests.support.images import TEMPLATES, TWINS, build_all
from tests.support.lab import (
    add_server,
    add_sftp_target,
    approve,
    leftovers,
    remove_every_instance,
    request_instance,
    succeeded,
)
from tests.support.proxy import remove_proxies, request_by_hostname, root_ca
from tests.support.shared_spaces import two_spaces_in_one_instance
from tests.support.sshd import TestServer
from tests.support.stack import Stack, embedded_stack

pytestmark = pytest.mark.e2e

POSTGRES = "docker.io/library/postgres:17.9-bookworm"


@pytest.fixture(scope="module")
def standin_images(docker_client: docker.DockerClient, registry: str, proxy_image: str) -> None:
    for recipe, name in [
        ("postgres", "library/postgres"),
        ("mattermost", "mattermost/mattermost-team-edition"),
        ("hedgedoc", "hedgedoc/hedgedoc"),
    ]:
        build_all(recipe, name, client=docker_client, registry=registry, root=TWINS)


@dataclass(frozen=True)
class Site:
    url: str
    address: str
    ca: str

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return request_by_hostname(
            method, self.url, address=self.address, ca_pem=self.ca, path=path, **kwargs
        )


@dataclass(frozen=True)
class Service:
    template: str
    first: str  # the version new instances get in the test catalog
    then: str  # the version they update to
    signs_in: Callable[[Site, str, str], bool]  # (site, account, password)
    signup_refused: Callable[[Site], bool]
    # A row in the database and a file on a volume, written and read inside the instance's containers.
    write_data: Callable[[docker.DockerClient, str], None]
    data_present: Callable[[docker.DockerClient, str], bool]
    remove_data: Callable[[docker.DockerClient, str], None]
    # Its export: the parts after the configuration, the one holding the file written (the file's
    # place in it), and a query answering 1 on the database part where the account written is in it.
    exported_parts: tuple[str, ...] = ()
    written_file: str = ""
    account_query: str = ""
    # What the export's part in the service's own format (if it has one) must hold.
    own_format: Callable[[Exported], None] | None = None
    # The earlier release's image, when upstream refuses to start it on a database a later one wrote.
    refusing_image: str | None = None


def _exec(client: docker.DockerClient, instance_id: str, container: str, argv: list[str]) -> tuple[int, str]:
    result = client.containers.get(f"prv-{instance_id}-{container}").exec_run(argv)
    return result.exit_code, result.output.decode().strip()


def _mattermost_signs_in(site: Site, account: str, password: str) -> bool:
    answer = site.request("POST", "/api/v4/users/login", json={"login_id": account, "password": password})
    return answer.status_code == 200 and bool(answer.headers.get("Token"))


def _mattermost_signup_refused(site: Site) -> bool:
    body = {"email": "visitor@example.org", "username": "visitor", "password": "visitor-password-1"}
    return site.request("POST", "/api/v4/users", json=body).status_code == 403


def _mattermost_write(client: docker.DockerClient, instance_id: str) -> None:
    create = ["/mattermost/bin/mmctl", "--local", "user", "create", "--email", "kassenwart@verein.example",
              "--username", "kassenwart", "--password", "Kassenbuch-2026"]  # fmt: skip
    assert _exec(client, instance_id, "app", create)[0] == 0
    assert (
        _exec(client, instance_id, "app", ["sh", "-c", "echo minutes > /mattermost/data/minutes.txt"])[0] == 0
    )


def _mattermost_present(client: docker.DockerClient, instance_id: str) -> bool:
    user = _exec(
        client, instance_id, "app", ["/mattermost/bin/mmctl", "--local", "user", "search", "kassenwart"]
    )
    return user[0] == 0 and _exec(client, instance_id, "app", ["cat", "/mattermost/data/minutes.txt"]) == (
        0,
        "minutes",
    )


def _mattermost_remove(client: docker.DockerClient, instance_id: str) -> None:
    drop = [
        "psql",
        "-U",
        "mattermost",
        "-d",
        "mattermost",
        "-c",
        "DELETE FROM users WHERE username = 'kassenwart'",
    ]
    assert _exec(client, instance_id, "db", drop)[0] == 0
    assert _exec(client, instance_id, "app", ["rm", "/mattermost/data/minutes.txt"])[0] == 0


def _hedgedoc_signs_in(site: Site, account: str, password: str) -> bool:
    login = site.request("POST", "/login", data={"email": account, "password": password})
    if login.status_code != 302 or "connect.sid" not in login.cookies:
        return False
    me = site.request("GET", "/me", cookies={"connect.sid": login.cookies["connect.sid"]})
    return bool(me.json()["status"] == "ok")


def _hedgedoc_signup_refused(site: Site) -> bool:
    register = site.request("POST", "/register", data={"email": "visitor@example.org", "password": "x" * 12})
    # Registration is off, and so are notes by visitors without an account.
    return register.status_code == 404 and site.request("GET", "/new").status_code == 403


def _hedgedoc_write(client: docker.DockerClient, instance_id: str) -> None:
    add = ["bin/manage_users", "--add", "kassenwart@verein.example", "--pass", "Kassenbuch-2026"]
    assert client.containers.get(f"prv-{instance_id}-app").exec_run(add, workdir="/hedgedoc").exit_code == 0
    write = ["sh", "-c", "echo minutes > /hedgedoc/public/uploads/minutes.txt"]
    assert _exec(client, instance_id, "app", write)[0] == 0


def _hedgedoc_present(client: docker.DockerClient, instance_id: str) -> bool:
    query = ["psql", "-U", "hedgedoc", "-d", "hedgedoc", "-tA", "-c",
             "SELECT count(*) FROM \"Users\" WHERE email = 'kassenwart@verein.example'"]  # fmt: skip
    uploads = _exec(client, instance_id, "app", ["stat", "-c", "%u %a", "/hedgedoc/public/uploads"])
    return (
        _exec(client, instance_id, "db", query) == (0, "1")
        and _exec(client, instance_id, "app", ["cat", "/hedgedoc/public/uploads/minutes.txt"])
        == (0, "minutes")
        # docker-entrypoint.sh gives the uploads to the hedgedoc user (10000), mode 0700.
        and uploads == (0, "10000 700")
    )


def _hedgedoc_remove(client: docker.DockerClient, instance_id: str) -> None:
    drop = ["psql", "-U", "hedgedoc", "-d", "hedgedoc", "-c",
            "DELETE FROM \"Users\" WHERE email = 'kassenwart@verein.example'"]  # fmt: skip
    assert _exec(client, instance_id, "db", drop)[0] == 0
    assert _exec(client, instance_id, "app", ["rm", "/hedgedoc/public/uploads/minutes.txt"])[0] == 0


def _mattermost_bulk_export(exported: Exported) -> None:
    """Mattermost's bulk export format: JSON Lines, the version object first, then a line per user
    (server/channels/app/export.go, export_converters.go), no password in it."""
    lines = [json.loads(line) for line in (exported.top / "team" / "bulk.jsonl").read_text().splitlines()]
    assert (lines[0]["type"], lines[0]["version"]) == ("version", 1)
    users = {line["user"]["username"]: line["user"] for line in lines if line["type"] == "user"}
    assert users["kassenwart"]["email"] == "kassenwart@verein.example"
    assert not any("password" in user for user in users.values())
    assert not list((exported.top / "team" / "files").glob("bulk-export"))  # a part of its own


MATTERMOST = Service(
    "mattermost", "10.11", "11.7", _mattermost_signs_in, _mattermost_signup_refused,
    _mattermost_write, _mattermost_present, _mattermost_remove,
    ("database", "bulk", "files", "plugins", "client-plugins"), "files/minutes.txt",
    "SELECT count(*) FROM users WHERE username = 'kassenwart'", _mattermost_bulk_export,
    "mattermost/mattermost-team-edition:10.11.23",
)  # fmt: skip
HEDGEDOC = Service(
    "hedgedoc", "1.10", "1.11", _hedgedoc_signs_in, _hedgedoc_signup_refused,
    _hedgedoc_write, _hedgedoc_present, _hedgedoc_remove,
    ("database", "uploads"), "uploads/minutes.txt",
    """SELECT count(*) FROM "Users" WHERE email = 'kassenwart@verein.example'""",
)  # fmt: skip
SERVICES = (MATTERMOST, HEDGEDOC)


def _test_catalog(root: Path, service: Service) -> Path:
    folder = root / service.template
    shutil.copytree(TEMPLATES / service.template, folder)
    path = folder / "template.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["default_version"] = service.first
    for version in raw["versions"].values():
        version["images"]["db"] = POSTGRES
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    return root


def _lab(
    cleanup: ExitStack,
    tmp_path: Path,
    services: tuple[Service, ...],
    server: TestServer,
    registry: str,
    docker_client: docker.DockerClient,
    *,
    cpu: int = 4,
) -> tuple[Path, Stack, ApiClient, str]:
    """The test catalog, a lab on it and the test server with room for ``cpu`` one-core services:
    (catalog, stack, operator, server id)."""
    catalog = tmp_path / "catalog"
    for service in services:
        _test_catalog(catalog, service)
    stack = cleanup.enter_context(
        embedded_stack(
            tmp_path / "lab",
            ssh_key=server.client_key,
            registry=registry,
            env={"PROVISIONER_TEMPLATES_DIR": str(catalog)},
        )
    )
    operator = cleanup.enter_context(ApiClient(stack.base_url, stack.operator_token))
    server_id = add_server(operator, server, cpu=cpu)
    cleanup.callback(remove_proxies, docker_client, [server_id])
    cleanup.callback(remove_every_instance, docker_client, operator)
    return catalog, stack, operator, server_id


def _eventually(check: Callable[[], bool], *, within: float = 90) -> bool:
    """Whether ``check`` comes true within ``within`` seconds: a restore starts the containers again and
    its job does not wait for the service to answer (HedgeDoc's entrypoint alone waits 3 s)."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(1)
    return True


def _healthy(site: Site, folder: Path) -> bool:
    """The template's health check, asked through the proxy: its status and every expected JSON value."""
    health = yaml.safe_load((folder / "template.yaml").read_text())["health"]
    try:
        answer = site.request("GET", health["path"])
    except httpx.HTTPError:
        return False
    if answer.status_code != health["expect_status"]:
        return False
    body = answer.json()
    return all(body.get(key) == value for key, value in health.get("expect_json", {}).items())


def _start_refused(client: docker.DockerClient, image: str, env_file: Path, network: str) -> str:
    """Starts ``image`` with the instance's settings on its network; returns what it said on exiting 1."""
    env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    container = client.containers.run(image, environment=env, network=network, detach=True)
    try:
        assert container.wait(timeout=120)["StatusCode"] == 1
        return bytes(container.logs()).decode()
    finally:
        container.remove(force=True)


def _admin_account(folder: Path) -> str:
    """The account the template says its shown password signs in (``secrets.admin_password.user``)."""
    raw = yaml.safe_load((folder / "template.yaml").read_text())
    return str(raw["secrets"]["admin_password"]["user"])


@dataclass
class Life:
    """One service's instance through the test, as its association sees it."""

    service: Service
    tenant: ApiClient
    folder: Path  # the template in the test catalog
    instance_id: str = ""
    site: Site | None = None
    account: str = ""
    password: str = ""
    backup_id: str = ""
    copy: dict[str, Any] = field(default_factory=dict)

    def start(self, method: str, path: str, body: dict[str, Any] | None = None) -> str:
        """Asks for a job on the instance; returns the job's id."""
        path = f"/api/v1/instances/{self.instance_id}{path}"
        accepted = self.tenant.call(method, path, expect=202, json=body)
        return str(accepted["job"]["id"])

    def comes_up(self, url: str | None = None) -> bool:
        """Whether the instance (or its copy at ``url``) answers the template's health check soon."""
        site = _site(self) if url is None else replace(_site(self), url=url)
        return _eventually(lambda: _healthy(site, self.folder))

    def instance(self, instance_id: str | None = None) -> dict[str, Any]:
        found: dict[str, Any] = self.tenant.call(
            "GET", f"/api/v1/instances/{instance_id or self.instance_id}", expect=200
        )
        return found


def _removal(tenant: ApiClient, instance_id: str) -> str:
    return str(tenant.call("DELETE", f"/api/v1/instances/{instance_id}", expect=202)["job"]["id"])


def _all_succeed(client: ApiClient, job_ids: list[str]) -> None:
    """The jobs, started together (the worker runs two at once), each ended with success."""
    for job_id in job_ids:
        succeeded(client, job_id)


# Both services side by side in one lab, their jobs two at a time: deploy, backup, two restores (one a
# deploy too), an export, an update and two removals each.
@pytest.mark.timeout(1800)
def test_standins_live_from_deploy_to_removal(
    tmp_path: Path,
    ssh_servers: list[TestServer],
    standin_images: None,
    registry: str,
    docker_client: docker.DockerClient,
) -> None:
    server, backup_server = ssh_servers
    with ExitStack() as cleanup:
        # Room for both instances and their copies.
        catalog, stack, operator, server_id = _lab(
            cleanup, tmp_path, SERVICES, server, registry, docker_client, cpu=8
        )
        add_sftp_target(operator, backup_server, backup_server.root_dir / "backups")
        # An association each: each has a restic repository of its own, as two associations would.
        lives = [
            Life(
                service,
                cleanup.enter_context(new_tenant(operator, stack.base_url, f"verein-{service.template}")[1]),
                catalog / service.template,
            )
            for service in SERVICES
        ]

        for life in lives:
            requested = request_instance(life.tenant, template=life.service.template, name="team")
            life.instance_id = requested["id"]
        # Both first deploys on the new server at once: they share its proxy, made once.
        _all_succeed(operator, [approve(operator, life.instance_id, server_id) for life in lives])
        ca = root_ca(docker_client, server_id)
        for life in lives:
            service = life.service
            running = life.instance()
            assert (running["state"], running["health"], running["version"]) == (
                "running",
                "healthy",
                service.first,
            )
            life.site = site = Site(running["url"], server.address, ca)
            # The first admin's password is shown once, with the account it signs in.
            shown = life.tenant.call("GET", f"/api/v1/instances/{life.instance_id}/credentials", expect=200)
            life.password = shown["credentials"]["admin_password"]
            life.account = _admin_account(life.folder)
            assert service.signs_in(site, life.account, life.password)
            assert not service.signs_in(site, life.account, life.password + "x")
            assert service.signup_refused(site)
            service.write_data(docker_client, life.instance_id)
            assert service.data_present(docker_client, life.instance_id)

        _all_succeed(operator, [life.start("POST", "/backups") for life in lives])
        for life in lives:
            backups = life.tenant.call("GET", f"/api/v1/instances/{life.instance_id}/backups", expect=200)
            life.backup_id = backups["items"][0]["id"]
            life.service.remove_data(docker_client, life.instance_id)
            assert not life.service.data_present(docker_client, life.instance_id)

        # In place: what was lost after the backup comes back, and the admin still signs in.
        _all_succeed(operator, [life.start("POST", "/restore", {"backup": life.backup_id}) for life in lives])
        for life in lives:
            assert life.comes_up()
            assert life.service.data_present(docker_client, life.instance_id)
            assert life.service.signs_in(_site(life), life.account, life.password)

        # Into a copy: a second instance with the same data, healthy on its own address.
        # The association's copy waits for approval like any request; approving it restores into it.
        copies = []
        for life in lives:
            asked = life.tenant.call(
                "POST",
                f"/api/v1/instances/{life.instance_id}/restore",
                expect=202,
                json={"backup": life.backup_id, "into": "new", "name": "copy"},
            )
            assert asked["job"] is None
            copies.append(approve(operator, asked["instance"]["id"], server_id))
            life.copy = asked["instance"]
        _all_succeed(operator, copies)
        for life in lives:
            life.copy = copy = life.instance(life.copy["id"])
            assert copy["state"] == "running"
            assert copy["hostname"] != life.instance()["hostname"]
            assert life.comes_up(copy["url"])
            assert life.service.data_present(docker_client, copy["id"])

        # An export each (from a fresh backup, after the restores above: retention keeps one a day): its
        # database loads into a fresh PostgreSQL with the account written, its files are the service's.
        for life in lives:
            service = life.service
            exported = exported_service(
                life.tenant,
                life.instance(),
                data_dir=tmp_path / "lab",
                into=tmp_path / f"export-{service.template}",
                parts=[*service.exported_parts],
            )
            assert (exported.top / "team" / service.written_file).read_bytes() == b"minutes\n"
            assert exported.parts["database"]["dialect"] == "postgresql"
            dump = (exported.top / exported.parts["database"]["path"]).read_bytes()
            fresh = f"{registry}/{POSTGRES.removeprefix('docker.io/')}"
            assert loaded_into_fresh_postgresql(docker_client, fresh, dump, service.account_query) == "1"
            if service.own_format is not None:
                service.own_format(exported)

        # An update to the next version keeps the data; going back is refused.
        _all_succeed(
            operator, [life.start("POST", "/update", {"version": life.service.then}) for life in lives]
        )
        for life in lives:
            service = life.service
            assert life.instance()["version"] == service.then
            assert life.comes_up()
            assert service.data_present(docker_client, life.instance_id)
            assert service.signs_in(_site(life), life.account, life.password)
            downgrade = life.tenant.http.post(
                f"/api/v1/instances/{life.instance_id}/update", json={"version": service.first}
            )
            assert downgrade.status_code == 422
            assert downgrade.json()["errors"][0]["field"] == "body.version"
            if service.refusing_image:
                env_file = server.root_dir / "instances" / life.instance_id / "app.env"
                assert "newer than this server" in _start_refused(
                    docker_client, f"{registry}/{service.refusing_image}", env_file, f"prv-{life.instance_id}"
                )

        # Removal leaves nothing: the copies, then the originals.
        for ids in ([life.copy["id"] for life in lives], [life.instance_id for life in lives]):
            _all_succeed(operator, [_removal(life.tenant, i) for life, i in zip(lives, ids, strict=True)])
            for instance_id in ids:
                assert leftovers(docker_client, instance_id) == []
                assert not (server.root_dir / "instances" / instance_id).exists()
                assert not (server.root_dir / "proxy" / "sites" / f"{instance_id}.caddy").exists()


def _site(life: Life) -> Site:
    assert life.site is not None
    return life.site


def _sign_in(site: Site, account: str, password: str) -> tuple[dict[str, str], str]:
    """The session header and the account's id, from Mattermost's own sign-in through the proxy."""
    answer = site.request("POST", "/api/v4/users/login", json={"login_id": account, "password": password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.headers['Token']}"}, str(answer.json()["id"])


def _mmctl(client: docker.DockerClient, instance_id: str, *argv: str) -> tuple[int, str]:
    return _exec(client, instance_id, "app", ["/mattermost/bin/mmctl", "--local", *argv])


# The shared instance's deploy, two spaces made in it and two removed, the last with the instance.
@pytest.mark.timeout(1200)
def test_two_associations_each_get_a_team_in_one_shared_mattermost_standin(
    tmp_path: Path,
    ssh_servers: list[TestServer],
    standin_images: None,
    registry: str,
    docker_client: docker.DockerClient,
) -> None:
    server = ssh_servers[0]
    with ExitStack() as cleanup:
        _, stack, operator, server_id = _lab(
            cleanup, tmp_path, (MATTERMOST,), server, registry, docker_client
        )
        admins, spaces, shared_id = two_spaces_in_one_instance(
            cleanup, stack.base_url, operator, template="mattermost", name="chat", server_id=server_id
        )
        ca = root_ca(docker_client, server_id)

        # Each space's admin, shown once, signs in at the space's address and finds one team: its
        # own, private, with itself as the team's admin.
        signed_in: dict[str, tuple[Site, dict[str, str], str]] = {}
        shown: dict[str, dict[str, Any]] = {}
        for slug, admin in admins.items():
            space = admin.call("GET", f"/api/v1/spaces/{spaces[slug]['id']}", expect=200)
            assert (space["state"], space["health"], space["separable_data"]) == ("running", "healthy", False)
            shown[slug] = admin.call("POST", f"/api/v1/spaces/{space['id']}/credentials", expect=200)
            site = Site(space["url"], server.address, ca)
            auth, user_id = _sign_in(site, shown[slug]["user"], shown[slug]["password"])
            signed_in[slug] = (site, auth, user_id)
            teams = site.request("GET", "/api/v4/users/me/teams", headers=auth).json()
            assert [(t["name"], t["type"]) for t in teams] == [(f"chat-{slug}", "I")]
            members = site.request("GET", "/api/v4/users/me/teams/members", headers=auth).json()
            assert [m["roles"] for m in members] == ["team_user team_admin"]

        # The other association's team stays closed to it: not shown, not administered.
        site_a, auth_a, _ = signed_in["verein-a"]
        site_b, auth_b, b_user = signed_in["verein-b"]
        assert site_a.request("GET", "/api/v4/teams/name/chat-verein-b", headers=auth_a).status_code == 403
        team_b = site_b.request("GET", "/api/v4/teams/name/chat-verein-b", headers=auth_b).json()
        demote = site_a.request(
            "PUT",
            f"/api/v4/teams/{team_b['id']}/members/{b_user}/roles",
            headers=auth_a,
            json={"roles": "team_user"},
        )
        assert demote.status_code == 403

        # Removing space a takes its team and its admin; space b and the shared instance stay.
        removal = admins["verein-a"].call("DELETE", f"/api/v1/spaces/{spaces['verein-a']['id']}", expect=202)
        done, _ = admins["verein-a"].wait_for_job(removal["job"]["id"])
        assert done["status"] == "succeeded", done["error"]
        assert _mmctl(docker_client, shared_id, "team", "list") == (0, "chat-verein-b")
        assert _mmctl(docker_client, shared_id, "user", "search", shown["verein-a"]["user"])[0] != 0
        assert operator.call("GET", f"/api/v1/instances/{shared_id}", expect=200)["state"] == "running"
        assert _mattermost_signs_in(site_b, shown["verein-b"]["user"], shown["verein-b"]["password"])

        # The last space takes the shared instance with it.
        removal = admins["verein-b"].call("DELETE", f"/api/v1/spaces/{spaces['verein-b']['id']}", expect=202)
        done, _ = admins["verein-b"].wait_for_job(removal["job"]["id"])
        assert done["status"] == "succeeded", done["error"]
        assert operator.call("GET", f"/api/v1/instances/{shared_id}", expect=200)["state"] == "removed"
        assert leftovers(docker_client, shared_id) == []
        assert not (server.root_dir / "proxy" / "sites" / f"{shared_id}.caddy").exists()
