"""Jitsi Meet's whole lifecycle through the real chain, against a STAND-IN for docker-jitsi-meet's four
images, which come from ghcr.io and cannot be pulled here.

The stand-in (tests/twins/jitsi) is one Debian image whose program plays web, prosody, jicofo
or jvb as docker-jitsi-meet's start-up scripts do, each rule citing the upstream file; it is tagged as
``jitsi/<part>:<release>`` in the local registry, where the template's ghcr.io references resolve through
the lab's image registry. The test uses a copy of the shipped template whose only change is
``default_version: stable-11146-1``, so the update to stable-11146-2 can be exercised.

Real parts: the provisioner in embedded mode, two sshd test servers (one runs the instance, the other
holds the restic repository over SFTP), Docker Engine, the server's Caddy proxy with its own CA, restic.
The flow: deploy → healthy (web through the proxy, prosody/jicofo/jvb health inside) → the first
moderator signs in over BOSH through the proxy, a wrong password does not → the media port answers
STUN → backup → restore in place and into a copy → update to the next release, a downgrade refused →
remove leaving nothing. And Jitsi's shared mode: two associations each get a tenant of one shared
instance, whose moderators come in by signed links that open their own tenant's meetings only.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import shutil
import socket
import ssl
import struct
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import docker
import pytest
import yaml

from provisioner.config import Settings
from tests.support.api_client import ApiClient, new_tenant
from tests.support.exports import exported_service
from tests.support.images import jitsi_standins
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
from tests.support.shared_spaces import two_spaces_in_one_instance
from tests.support.sshd import TestServer
from tests.support.stack import embedded_stack

pytestmark = pytest.mark.e2e

OLD, NEW = "stable-11146-1", "stable-11146-2"
BOSH = "http://jabber.org/protocol/httpbind"
SASL = "urn:ietf:params:xml:ns:xmpp-sasl"


@pytest.fixture(scope="module")
def standins(docker_client: docker.DockerClient, registry: str, proxy_image: str) -> dict[str, str]:
    return jitsi_standins(client=docker_client, registry=registry)


def templates_starting_old(root: Path) -> Path:
    """A copy of the shipped template that new instances get at the older release."""
    templates = root / "templates"
    shutil.copytree(Settings().resolved_templates_dir / "jitsi", templates / "jitsi")
    path = templates / "jitsi" / "template.yaml"
    document = yaml.safe_load(path.read_text())
    document["default_version"] = OLD
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    return templates


def sign_in(instance: dict[str, Any], *, address: str, ca: str, user: str, password: str) -> bool:
    """SASL PLAIN over BOSH at /http-bind, through the proxy and web to prosody, as a browser does."""

    def post(body: str) -> ElementTree.Element:
        answer = request_by_hostname(
            "POST", instance["url"], address=address, ca_pem=ca, path="/http-bind", content=body.encode()
        )
        assert answer.status_code == 200, answer.text
        return ElementTree.fromstring(answer.text)  # noqa: S314 - the stand-in answers, on loopback

    opened = post(f"<body xmlns='{BOSH}' rid='1' to='meet.jitsi' wait='60' hold='1'/>")
    mechanisms = [m.text for m in opened.iter(f"{{{SASL}}}mechanism")]
    assert mechanisms == ["PLAIN"]  # the main host asks for an account: authentication is on
    token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
    answer = post(
        f"<body xmlns='{BOSH}' rid='2' sid='{opened.get('sid')}'>"
        f"<auth xmlns='{SASL}' mechanism='PLAIN'>{token}</auth></body>"
    )
    return answer.find(f"{{{SASL}}}success") is not None


def websocket_status(instance: dict[str, Any], *, address: str, ca: str) -> str:
    """The status line of an XMPP websocket handshake through the proxy."""
    hostname = instance["hostname"]
    context = ssl.create_default_context(cadata=ca)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /xmpp-websocket HTTP/1.1\r\nHost: {hostname}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: xmpp\r\n\r\n"
    )
    with (
        socket.create_connection((address, 443), timeout=20) as raw,
        context.wrap_socket(raw, server_hostname=hostname) as tls,
    ):
        tls.sendall(request.encode())
        return tls.recv(4096).decode().split("\r\n")[0]


def stun_binding(address: str, port: int) -> bool:
    """A STUN binding request to the media port; True when a binding success comes back."""
    transaction = secrets.token_bytes(12)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(5)
        udp.sendto(struct.pack("!HHI", 0x0001, 0, 0x2112A442) + transaction, (address, port))
        answer, _ = udp.recvfrom(2048)
    return answer[:2] == b"\x01\x01" and answer[8:20] == transaction


def run_in(client: docker.DockerClient, name: str, *argv: str) -> str:
    done = client.containers.get(name).exec_run(list(argv))
    assert done.exit_code == 0, done.output.decode()
    return str(done.output.decode())


def heap_mb(java_args: str) -> int:
    match = re.search(r"-Xmx(\d+)m", java_args)
    assert match, java_args
    return int(match.group(1))


# One flow on purpose: deploy, backup, two restores and an update are each a deploy-sized job.
@pytest.mark.timeout(2400)
def test_jitsi_standin_deploy_sign_in_backup_restore_update_remove(
    tmp_path: Path,
    ssh_servers: list[TestServer],
    standins: dict[str, str],
    registry: str,
    docker_client: docker.DockerClient,
) -> None:
    server, backup_server = ssh_servers
    # docker-jitsi-meet's prosody refuses to start without the component passwords (scripts/config).
    # (Its data folder is a volume in upstream's compose file; a tmpfs here.)
    refused = docker_client.containers.run(
        standins[f"prosody-{NEW}"],
        detach=True,
        environment={"ENABLE_AUTH": "1"},
        tmpfs={"/var/lib/prosody": ""},
    )
    try:
        assert refused.wait(timeout=60)["StatusCode"] == 1
        assert "FATAL ERROR: Jicofo auth password must be set" in refused.logs().decode()
    finally:
        refused.remove(force=True)

    templates = templates_starting_old(tmp_path)
    with ExitStack() as cleanup:
        stack = cleanup.enter_context(
            embedded_stack(
                tmp_path / "data",
                ssh_key=server.client_key,
                registry=registry,
                env={"PROVISIONER_TEMPLATES_DIR": str(templates)},
            )
        )
        operator = cleanup.enter_context(ApiClient(stack.base_url, stack.operator_token))
        server_id = add_server(operator, server, cpu=6)
        cleanup.callback(remove_proxies, docker_client, [server_id])
        cleanup.callback(remove_every_instance, docker_client, operator)
        add_sftp_target(operator, backup_server, backup_server.root_dir / "backups")
        verein = cleanup.enter_context(new_tenant(operator, stack.base_url, "verein-meet")[1])

        meet_id = request_instance(verein, template="jitsi", name="treffen", subdomain="treffen")["id"]
        succeeded(operator, approve(operator, meet_id, server_id))
        meet = verein.call("GET", f"/api/v1/instances/{meet_id}", expect=200)
        assert (meet["state"], meet["health"], meet["version"]) == ("running", "healthy", OLD)
        ca = root_ca(docker_client, server_id)

        # The meeting page and its configuration, through the proxy: https addresses, guests allowed.
        page = get_by_hostname(meet["url"], address=server.address, ca_pem=ca, path="/")
        assert page.status_code == 200
        assert "Jitsi Meet" in page.text
        config = get_by_hostname(meet["url"], address=server.address, ca_pem=ca, path="/config.js").text
        assert f"config.bosh = 'https://{meet['hostname']}/http-bind';" in config
        assert f"config.websocket = 'wss://{meet['hostname']}/xmpp-websocket';" in config
        assert "config.hosts.anonymousdomain = 'guest.meet.jitsi';" in config
        assert "config.defaultLanguage = 'de';" in config
        assert websocket_status(meet, address=server.address, ca=ca).startswith("HTTP/1.1 101")

        # The first moderator: shown once, and prosody accepts exactly that password.
        shown = verein.call("GET", f"/api/v1/instances/{meet_id}/credentials", expect=200)["credentials"]
        password = shown["moderator_password"]
        assert set(shown) == {"moderator_password"}
        assert sign_in(meet, address=server.address, ca=ca, user="moderator", password=password)
        assert not sign_in(meet, address=server.address, ca=ca, user="moderator", password=password + "x")

        # The heaps stay below the containers' limits; the media port is the instance's and answers.
        for part in ("jvb", "jicofo"):
            container = docker_client.containers.get(f"prv-{meet_id}-{part}")
            limit_mb = container.attrs["HostConfig"]["Memory"] // (1024 * 1024)
            assert heap_mb(run_in(docker_client, container.name, "cat", f"/run/{part}/java-args")) < limit_mb
        jvb = docker_client.containers.get(f"prv-{meet_id}-jvb")
        bindings = jvb.attrs["HostConfig"]["PortBindings"]
        [(inside, [published])] = bindings.items()
        media_port = int(published["HostPort"])
        assert (inside, published["HostIp"]) == (f"{media_port}/udp", server.address)
        jvb_conf = run_in(docker_client, jvb.name, "cat", "/run/jvb/config/jvb.json")
        assert f'"videobridge.ice.udp.port": {media_port}' in jvb_conf
        assert f'"public-address": "{server.address}"' in jvb_conf
        assert stun_binding(server.address, media_port)

        # Backup; then the accounts are lost and a restore in place brings the moderator back.
        job_succeeded(verein, verein.call("POST", f"/api/v1/instances/{meet_id}/backups", expect=202))
        backup = verein.call("GET", f"/api/v1/instances/{meet_id}/backups", expect=200)["items"][0]
        run_in(docker_client, f"prv-{meet_id}-prosody", "rm", "-r", "/var/lib/prosody/meet%2ejitsi")
        assert not sign_in(meet, address=server.address, ca=ca, user="moderator", password=password)
        restored = job_succeeded(
            verein,
            verein.call(
                "POST", f"/api/v1/instances/{meet_id}/restore", expect=202, json={"backup": backup["id"]}
            ),
        )
        assert restored["instance"] == meet_id
        assert verein.call("GET", f"/api/v1/instances/{meet_id}", expect=200)["health"] == "healthy"
        assert sign_in(meet, address=server.address, ca=ca, user="moderator", password=password)

        # Into a copy: its own address and media port, and a moderator password of its own (the
        # template's reset steps run after the restore).
        # The association's copy waits for approval like any request; approving it restores into it.
        asked = verein.call(
            "POST",
            f"/api/v1/instances/{meet_id}/restore",
            expect=202,
            json={"backup": backup["id"], "into": "new", "name": "treffen-kopie"},
        )
        assert asked["job"] is None
        copy_id = asked["instance"]["id"]
        succeeded(operator, approve(operator, copy_id, server_id))
        copy = verein.call("GET", f"/api/v1/instances/{copy_id}", expect=200)
        assert (copy["state"], copy["health"]) == ("running", "healthy")
        assert copy["hostname"] != meet["hostname"]
        copy_shown = verein.call("GET", f"/api/v1/instances/{copy_id}/credentials", expect=200)["credentials"]
        assert copy_shown["moderator_password"] != password
        assert sign_in(
            copy, address=server.address, ca=ca, user="moderator", password=copy_shown["moderator_password"]
        )
        assert not sign_in(copy, address=server.address, ca=ca, user="moderator", password=password)
        assert sign_in(meet, address=server.address, ca=ca, user="moderator", password=password)
        copy_jvb = docker_client.containers.get(f"prv-{copy['id']}-jvb")
        assert [*copy_jvb.attrs["HostConfig"]["PortBindings"]] != [inside]

        # An export (from a fresh backup, after the restores above: retention keeps one a day): the
        # moderator's account file is prosody's byte for byte (keys derived from the password, never
        # the password itself, which no file of the archive holds).
        exported = exported_service(
            verein, meet, data_dir=tmp_path / "data", into=tmp_path / "export", parts=["accounts"]
        )
        account = "meet%2ejitsi/accounts/moderator.dat"
        kept = docker_client.containers.get(f"prv-{meet_id}-prosody").exec_run(
            ["cat", f"/var/lib/prosody/{account}"]
        )
        assert kept.exit_code == 0
        assert (exported.top / "treffen" / "accounts" / account).read_bytes() == kept.output

        # Update to the next release: prosody's data folder moves (upstream commit 65c08f7e) and the
        # deploy step registers the moderator again; a downgrade is refused.
        updated = job_succeeded(
            verein,
            verein.call("POST", f"/api/v1/instances/{meet_id}/update", expect=202, json={"version": NEW}),
        )
        assert updated["target_version"] == NEW
        after = verein.call("GET", f"/api/v1/instances/{meet_id}", expect=200)
        assert (after["state"], after["health"], after["version"]) == ("running", "healthy", NEW)
        accounts = run_in(
            docker_client, f"prv-{meet_id}-prosody", "ls", "/var/lib/prosody/data/meet%2ejitsi/accounts"
        )
        assert accounts.split() == ["moderator.dat"]
        assert sign_in(after, address=server.address, ca=ca, user="moderator", password=password)
        downgrade = verein.http.post(f"/api/v1/instances/{meet_id}/update", json={"version": OLD})
        assert downgrade.status_code == 422
        assert downgrade.json()["errors"][0]["field"] == "body.version"

        # Removal leaves nothing: containers, network, volumes, route; the media port is closed.
        for instance_id in (meet_id, copy["id"]):
            remove_through_api(verein, instance_id)
            assert leftovers(docker_client, instance_id) == []
            assert not (server.root_dir / "proxy" / "sites" / f"{instance_id}.caddy").exists()
            assert not (server.root_dir / "instances" / instance_id).exists()
        with pytest.raises(TimeoutError):
            stun_binding(server.address, media_port)


def joins(space: dict[str, Any], tenant: str, room: str, *, token: str | None, address: str, ca: str) -> str:
    """A browser at the space's address: BOSH at /<tenant>/http-bind with the link's token, SASL
    ANONYMOUS, then into the room (as the client names it: room@muc.<tenant>.meet.jitsi). "signed in
    refused", "refused" (the room) or "joined"."""
    query = f"?token={token}" if token else ""

    def post(body: str) -> ElementTree.Element:
        answer = request_by_hostname(
            "POST",
            space["url"],
            address=address,
            ca_pem=ca,
            path=f"/{tenant}/http-bind{query}",
            content=body.encode(),
        )
        assert answer.status_code == 200, answer.text
        return ElementTree.fromstring(answer.text)  # noqa: S314 - the stand-in answers, on loopback

    opened = post(f"<body xmlns='{BOSH}' rid='1' to='meet.jitsi' wait='60' hold='1'/>")
    assert [m.text for m in opened.iter(f"{{{SASL}}}mechanism")] == ["ANONYMOUS"]  # token auth
    sid = opened.get("sid")
    signed_in = post(
        f"<body xmlns='{BOSH}' rid='2' sid='{sid}'><auth xmlns='{SASL}' mechanism='ANONYMOUS'/></body>"
    )
    if signed_in.find(f"{{{SASL}}}success") is None:
        return "signed in refused"
    entered = post(
        f"<body xmlns='{BOSH}' rid='3' sid='{sid}'>"
        f"<presence xmlns='jabber:client' to='{room}@muc.{tenant}.meet.jitsi/moderator'/></body>"
    )
    return "refused" if "not-allowed" in ElementTree.tostring(entered).decode() else "joined"


# The shared instance's deploy, two tenants made in it, moderator links, and both removed with it.
@pytest.mark.timeout(1500)
def test_two_associations_each_get_a_tenant_of_one_shared_jitsi_standin(
    tmp_path: Path,
    ssh_servers: list[TestServer],
    standins: dict[str, str],
    registry: str,
    docker_client: docker.DockerClient,
) -> None:
    server = ssh_servers[0]
    with ExitStack() as cleanup:
        stack = cleanup.enter_context(
            embedded_stack(tmp_path / "data", ssh_key=server.client_key, registry=registry)
        )
        operator = cleanup.enter_context(ApiClient(stack.base_url, stack.operator_token))
        server_id = add_server(operator, server, cpu=6)
        cleanup.callback(remove_proxies, docker_client, [server_id])
        cleanup.callback(remove_every_instance, docker_client, operator)
        admins, spaces, shared_id = two_spaces_in_one_instance(
            cleanup, stack.base_url, operator, template="jitsi", name="meet", server_id=server_id
        )
        ca = root_ca(docker_client, server_id)
        # prosody takes tokens on its main host and keeps tenants apart; nobody has an account.
        site = run_in(
            docker_client, f"prv-{shared_id}-prosody", "cat", "/run/prosody/config/conf.d/jitsi-meet.cfg.lua"
        )
        assert 'authentication = "token"' in site
        assert "enable_domain_verification = true" in site

        tenants, links = {}, {}
        for slug, admin in admins.items():
            space = spaces[slug] = admin.call("GET", f"/api/v1/spaces/{spaces[slug]['id']}", expect=200)
            assert (space["state"], space["health"], space["separable_data"]) == ("running", "healthy", False)
            tenants[slug] = space["id"].replace("_", "")
            made = admin.call(
                "POST",
                f"/api/v1/spaces/{space['id']}/moderator-links",
                expect=200,
                json={"room": "*", "days": 1},
            )
            assert (
                made["url"]
                == f"{space['url'].rstrip('/')}/{tenants[slug]}/?jwt={made['url'].split('jwt=')[1]}"
            )
            links[slug] = made["url"].split("jwt=")[1]
            # The space's page and its configuration: rooms in the tenant's MUC, BOSH at the space's address.
            config = get_by_hostname(
                space["url"], address=server.address, ca_pem=ca, path=f"/{tenants[slug]}/config.js"
            )
            assert f"config.hosts.muc = 'muc.{tenants[slug]}.meet.jitsi';" in config.text
            assert f"config.bosh = '/{tenants[slug]}/http-bind';" in config.text

        a, b = spaces["verein-a"], spaces["verein-b"]
        where = {"address": server.address, "ca": ca}
        assert joins(a, tenants["verein-a"], "vorstand", token=links["verein-a"], **where) == "joined"
        assert joins(b, tenants["verein-b"], "vorstand", token=links["verein-b"], **where) == "joined"
        # One association's link opens none of the other's meetings, nor a room outside any tenant.
        assert joins(a, tenants["verein-b"], "vorstand", token=links["verein-a"], **where) == "refused"
        assert joins(b, tenants["verein-a"], "vorstand", token=links["verein-b"], **where) == "refused"
        assert joins(a, tenants["verein-a"], "vorstand", token=None, **where) == "signed in refused"
        forged = links["verein-a"][:-4] + ("AAAA" if not links["verein-a"].endswith("AAAA") else "BBBB")
        assert joins(a, tenants["verein-a"], "vorstand", token=forged, **where) == "signed in refused"

        # Removing the spaces: the last takes the shared instance with it.
        for slug in ("verein-a", "verein-b"):
            removal = admins[slug].call("DELETE", f"/api/v1/spaces/{spaces[slug]['id']}", expect=202)
            done, _ = admins[slug].wait_for_job(removal["job"]["id"])
            assert done["status"] == "succeeded", done["error"]
        assert operator.call("GET", f"/api/v1/instances/{shared_id}", expect=200)["state"] == "removed"
        assert leftovers(docker_client, shared_id) == []
