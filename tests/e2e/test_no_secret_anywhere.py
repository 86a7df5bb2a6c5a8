"""A WordPress instance's whole life through the real chain, and after it no secret anywhere it should not
be. Request → approve → running → healthy by its hostname through the server's proxy, with a
certificate from the proxy's CA → isolated on the server (its own network, shared with the proxy only,
its own volumes, no host ports) → the admin's password shown once and accepted by WordPress's own login
→ reset by a job (the template's reset_credentials hook): the old password refused, the new one shown
once and accepted → removed, leaving no container, volume or route, and its hostname free again.

Then no secret is anywhere it should not be: not in any row of the control plane's database, not in a
dump of it, not in the logs of the API, worker and scheduler, not in what the runner left on disk, not
in any answer of the API (each password only in the one answer that showed it).

Secrets looked for: every value generated for the instance (read from the database and decrypted with
the lab's key while it runs, before and after the reset), the lab's secret key itself, the control
plane's SSH private key and each line of its base64 body, and the API tokens (stored hashed only).

Real parts: PostgreSQL and Redis, the provisioner as separate API, worker and scheduler processes, an
sshd test server, Docker Engine, WordPress and MariaDB images built from Debian packages and pulled from
the local registry, and the server's Caddy proxy with its own CA, whose chain the test checks.
"""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import docker
import httpx
import pytest
from sqlalchemy import select

from provisioner.config import Settings
from provisioner.crypto import DecryptionFailed, decrypt
from provisioner.db import Base, session_factory
from provisioner.models import InstanceSecret
from tests.support.api_client import ApiClient, new_tenant
from tests.support.lab import (
    INSTANCE_LABEL,
    add_server,
    approve,
    remove_through_api,
    request_instance,
    succeeded,
)
from tests.support.proxy import get_by_hostname, proxy_container, remove_proxies, root_ca
from tests.support.sshd import TestServer
from tests.support.stack import production_stack

pytestmark = pytest.mark.e2e


class Recorder:
    """Keeps the text of every answer the API gave to the clients it is attached to."""

    def __init__(self) -> None:
        self.answers: list[str] = []
        self.showings: list[int] = []  # which answers showed an instance's credentials

    def attach(self, client: ApiClient) -> ApiClient:
        client.http.event_hooks["response"].append(self._keep)
        return client

    def _keep(self, response: httpx.Response) -> None:
        response.read()
        if response.request.url.path.endswith("/credentials") and response.status_code == 200:
            self.showings.append(len(self.answers))
        self.answers.append(f"{response.request.method} {response.request.url}\n{response.text}")


def _secret_lines(private_key: str) -> list[str]:
    """The key, and each line of its base64 body: a key cut into lines in a log is still the key."""
    body = [line for line in private_key.splitlines() if line and not line.startswith("-----")]
    return [private_key.strip(), *body]


def _generated_secrets(database_url: str, settings: Settings, instance_id: str) -> list[str]:
    with session_factory(database_url)() as session:
        rows = session.scalars(select(InstanceSecret).where(InstanceSecret.instance_id == instance_id))
        encrypted = [row.encrypted for row in rows]
    other_lab = Settings(secret_key="another-lab-with-another-key-000")
    for token in encrypted:
        with pytest.raises(DecryptionFailed):
            decrypt(other_lab, token)  # useless without the key, which the database does not hold
    return [decrypt(settings, token) for token in encrypted]


def _database_text(database_url: str) -> Iterable[tuple[str, str]]:
    with session_factory(database_url)() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)):
                yield f"table {table.name}", repr(tuple(row))


def _dump(database_url: str) -> str:
    plain = database_url.replace("postgresql+psycopg://", "postgresql://")
    done = subprocess.run(["pg_dump", "--dbname", plain], capture_output=True, text=True, check=True)
    return done.stdout


def _files(folder: Path) -> Iterable[tuple[str, str]]:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            yield str(path.relative_to(folder)), path.read_bytes().decode("utf-8", "replace")


def _found(secrets: list[str], places: Iterable[tuple[str, str]]) -> list[str]:
    return [f"{where}: {secret[:6]}…" for where, text in places for secret in secrets if secret in text]


# A WordPress deploy, a credentials reset and a removal: more than the default limit on a busy machine.
@pytest.mark.timeout(1800)
def test_wordpress_from_request_to_removal_leaves_no_secret_in_database_dump_logs_files_or_answers(
    tmp_path: Path,
    pg_url: str,
    redis_url: str,
    ssh_servers: list[TestServer],
    wordpress_images: dict[str, str],
    registry: str,
    docker_client: docker.DockerClient,
) -> None:
    server = ssh_servers[0]
    data_dir = tmp_path / "data"
    recorder = Recorder()
    with ExitStack() as cleanup:
        stack = cleanup.enter_context(
            production_stack(
                data_dir,
                database_url=pg_url,
                broker_url=redis_url,
                ssh_key=server.client_key,
                registry=registry,
            )
        )
        settings = Settings(secret_key=stack.env["PROVISIONER_SECRET_KEY"])
        operator = recorder.attach(cleanup.enter_context(ApiClient(stack.base_url, stack.operator_token)))
        server_id = add_server(operator, server)
        cleanup.callback(remove_proxies, docker_client, [server_id])
        tenant_id, verein = new_tenant(operator, stack.base_url, "verein-s")
        verein = recorder.attach(cleanup.enter_context(verein))
        tenant_token = verein.http.headers["Authorization"].split()[1]

        instance_id = request_instance(verein, template="wordpress", name="blog", subdomain="blog")["id"]
        deploy = succeeded(verein, approve(operator, instance_id, server_id))
        generated = _generated_secrets(pg_url, settings, instance_id)
        assert len(generated) >= 5, "WordPress gets its database password and keys generated"
        # The secrets did reach the server, where they belong.
        database = docker_client.containers.get(f"prv-{instance_id}-db")
        assert any(secret in " ".join(database.attrs["Config"]["Env"]) for secret in generated)
        running = verein.call("GET", f"/api/v1/instances/{instance_id}", expect=200)
        assert (running["state"], running["health"], running["url"]) == (
            "running",
            "healthy",
            "https://blog.localhost/",
        )
        ca = root_ca(docker_client, server_id)
        _served_by_hostname_and_isolated(docker_client, running, server_id, server.address, ca)

        reset, passwords = _shown_once_then_reset(verein, instance_id, address=server.address, ca_pem=ca)
        generated += _generated_secrets(pg_url, settings, instance_id)  # the reset's new values too
        audit = verein.call("GET", "/api/v1/audit", expect=200)["items"]
        assert ("reset_credentials", instance_id, tenant_id) in {
            (e["action"], e["target_id"], e["tenant_id"]) for e in audit
        }

        removed = remove_through_api(verein, instance_id)
        label = {"label": f"{INSTANCE_LABEL}={instance_id}"}
        assert docker_client.containers.list(all=True, filters=label) == []
        assert docker_client.volumes.list(filters=label) == []
        assert not (server.root_dir / "proxy" / "sites" / f"{instance_id}.caddy").exists()
        with pytest.raises(httpx.ConnectError):
            get_by_hostname(running["url"], address=server.address, ca_pem=ca, path="/")
        for job_id in (deploy["id"], reset, removed["id"]):
            for client in (verein, operator):
                events = client.call("GET", f"/api/v1/jobs/{job_id}/events", expect=200)["items"]
                assert events
                assert client.http.get(f"/api/v1/jobs/{job_id}/stdout").status_code == 200
                client.call("GET", f"/api/v1/jobs/{job_id}", expect=200)
        verein.call("GET", f"/api/v1/instances/{instance_id}", expect=200)
        # The subdomain is free again once the instance is removed.
        request_instance(verein, template="wordpress", name="blog-again", subdomain="blog")
    # The processes have stopped: their logs are complete.

    secrets = [
        *generated,
        settings.secret_key,
        *_secret_lines(server.client_key.read_text()),
    ]
    tokens = [stack.operator_token, tenant_token]
    assert not list((data_dir / "runs").glob("run-*")), "the runner's private folders are removed"
    assert not _found(secrets + tokens, _database_text(pg_url))
    assert not _found(secrets + tokens, [("pg_dump", _dump(pg_url))])
    assert all((data_dir / "logs" / f"{role}.log").stat().st_size for role in ("api", "worker", "beat"))
    assert not _found(secrets + tokens, _files(data_dir))  # logs of every process, anything the runs left
    # Tokens are shown once, when made; each admin password once, in its credentials answer; the
    # template's internal secrets never.
    answers = [(f"answer {n}", text) for n, text in enumerate(recorder.answers)]
    assert len(recorder.showings) == len(passwords) == 2
    assert not _found(secrets, [answer for n, answer in enumerate(answers) if n not in recorder.showings])
    internal = [secret for secret in secrets if secret not in passwords]
    assert not _found(internal, [answers[n] for n in recorder.showings])
    assert len(recorder.answers) > 10


def _served_by_hostname_and_isolated(
    client: docker.DockerClient, instance: dict[str, Any], server_id: str, address: str, ca: str
) -> None:
    """By hostname through the proxy, with a certificate for that name from the proxy's CA (and from no
    public one); on the server, its own network (shared with the proxy only), volumes, no host ports."""
    page = get_by_hostname(instance["url"], address=address, ca_pem=ca, path="/wp-admin/install.php")
    assert page.status_code == 200
    assert "WordPress" in page.text
    assert "Error establishing a database connection" not in page.text
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        get_by_hostname(instance["url"], address=address, ca_pem=_other_ca(), path="/")

    instance_id = instance["id"]
    label = {"label": f"{INSTANCE_LABEL}={instance_id}"}
    containers = {c.name: c for c in client.containers.list(filters=label)}
    assert set(containers) == {f"prv-{instance_id}-db", f"prv-{instance_id}-web"}
    assert all(not c.attrs["HostConfig"]["PortBindings"] for c in containers.values())
    assert containers[f"prv-{instance_id}-db"].attrs["HostConfig"]["Memory"] == 256 * 1024 * 1024
    network = client.networks.get(f"prv-{instance_id}")
    attached = {c.name for c in network.containers}
    assert attached == {*containers, proxy_container(client, server_id).name}
    volumes = {v.name for v in client.volumes.list(filters=label)}
    # -wxr: WordPress's own export of the site (WXR), written at each backup where Apache does not serve it.
    assert volumes == {f"prv-{instance_id}-{name}" for name in ("db", "content", "wxr")}
    # The database keeps its data on the instance's volume.
    assert containers[f"prv-{instance_id}-db"].exec_run(["ls", "/var/lib/mysql/wordpress"]).exit_code == 0


def _shown_once_then_reset(
    verein: ApiClient, instance_id: str, *, address: str, ca_pem: str
) -> tuple[str, list[str]]:
    """The generated credentials are shown once (the admin's password, none of the internal ones), and
    a reset gives the admin a new password, shown once too. Returns the reset's job id and both
    passwords."""
    url = verein.call("GET", f"/api/v1/instances/{instance_id}", expect=200)["url"]

    def show() -> str:
        credentials = verein.call("GET", f"/api/v1/instances/{instance_id}/credentials", expect=200)
        assert set(credentials["credentials"]) == {"admin_password"}
        assert verein.http.get(f"/api/v1/instances/{instance_id}/credentials").status_code == 410
        return str(credentials["credentials"]["admin_password"])

    old_password = show()
    assert _logs_in(url, address=address, ca_pem=ca_pem, password=old_password)
    assert not _logs_in(url, address=address, ca_pem=ca_pem, password="not-" + old_password)

    reset = verein.call("POST", f"/api/v1/instances/{instance_id}/credentials/reset", expect=202)
    assert reset["job"]["kind"] == "reset_credentials"
    succeeded(verein, reset["job"]["id"])
    assert verein.call("GET", f"/api/v1/instances/{instance_id}", expect=200)["state"] == "running"

    new_password = show()
    assert new_password != old_password
    assert not _logs_in(url, address=address, ca_pem=ca_pem, password=old_password)
    assert _logs_in(url, address=address, ca_pem=ca_pem, password=new_password)
    return str(reset["job"]["id"]), [old_password, new_password]


def _logs_in(url: str, *, address: str, ca_pem: str, password: str) -> bool:
    """WordPress's own login form, by hostname through the proxy: a redirect with a session cookie."""
    hostname = urlsplit(url).hostname or ""
    context = ssl.create_default_context(cadata=ca_pem)
    with httpx.Client(verify=context, timeout=30) as http:
        response = http.post(
            f"https://{address}/wp-login.php",
            headers={"Host": hostname, "Cookie": "wordpress_test_cookie=WP%20Cookie%20check"},
            data={"log": "admin", "pwd": password, "wp-submit": "Log In", "testcookie": "1"},
            extensions={"sni_hostname": hostname},
        )
    logged_in = any(c.startswith("wordpress_logged_in_") for c in response.cookies)
    return response.status_code == 302 and logged_in


def _other_ca() -> str:
    """Public CAs (certifi's bundle): none of them signed the proxy's local certificates."""
    import certifi  # noqa: PLC0415 - only this check needs it

    return Path(certifi.where()).read_text()
