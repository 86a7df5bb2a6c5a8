"""After a whole life of an instance (deploy, credentials shown, removal), no secret is anywhere it
should not be: not in any row of the control plane's database, not in a dump of it, not in the logs of
the API, worker and scheduler, not in what the runner left on disk, not in any answer of the API.

Secrets looked for: every value generated for the instance (read from the database and decrypted with
the lab's key while it runs), the lab's secret key itself, the control plane's SSH private key and each
line of its base64 body, and the API tokens (stored hashed only).

Real parts: PostgreSQL and Redis, the provisioner as separate API, worker and scheduler processes, an
sshd test server, Docker Engine, WordPress and MariaDB images built from Debian packages.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path

import docker
import httpx
import pytest
from sqlalchemy import select

from provisioner.config import Settings
from provisioner.crypto import DecryptionFailed, decrypt
from provisioner.db import Base, session_factory
from provisioner.models import InstanceSecret
from tests.support.api_client import ApiClient, new_tenant
from tests.support.lab import add_server, approve, remove_through_api, request_instance, succeeded
from tests.support.proxy import remove_proxies
from tests.support.sshd import TestServer
from tests.support.stack import production_stack

pytestmark = pytest.mark.e2e


class Recorder:
    """Keeps the text of every answer the API gave to the clients it is attached to."""

    def __init__(self) -> None:
        self.answers: list[str] = []

    def attach(self, client: ApiClient) -> ApiClient:
        client.http.event_hooks["response"].append(self._keep)
        return client

    def _keep(self, response: httpx.Response) -> None:
        response.read()
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


def test_no_secret_in_database_dump_logs_runner_files_or_answers(
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
        verein = recorder.attach(cleanup.enter_context(new_tenant(operator, stack.base_url, "verein-s")[1]))
        tenant_token = verein.http.headers["Authorization"].split()[1]

        instance_id = request_instance(verein, template="wordpress", name="blog")["id"]
        deploy = succeeded(verein, approve(operator, instance_id, server_id))
        generated = _generated_secrets(pg_url, settings, instance_id)
        assert len(generated) >= 5, "WordPress gets its database password and keys generated"
        # The secrets did reach the server, where they belong.
        database = docker_client.containers.get(f"prv-{instance_id}-db")
        assert any(secret in " ".join(database.attrs["Config"]["Env"]) for secret in generated)

        shown_at = len(recorder.answers)
        shown = verein.call("GET", f"/api/v1/instances/{instance_id}/credentials", expect=200)["credentials"]
        removed = remove_through_api(verein, instance_id)
        for job_id in (deploy["id"], removed["id"]):
            for client in (verein, operator):
                events = client.call("GET", f"/api/v1/jobs/{job_id}/events", expect=200)["items"]
                assert events
                assert client.http.get(f"/api/v1/jobs/{job_id}/stdout").status_code == 200
                client.call("GET", f"/api/v1/jobs/{job_id}", expect=200)
        verein.call("GET", f"/api/v1/instances/{instance_id}", expect=200)
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
    # Tokens are shown once, when made; the first admin password once, in the credentials answer; the
    # template's internal secrets never.
    answers = [(f"answer {n}", text) for n, text in enumerate(recorder.answers)]
    assert not _found(secrets, answers[:shown_at] + answers[shown_at + 1 :])
    internal = [secret for secret in secrets if secret not in shown.values()]
    assert not _found(internal, [answers[shown_at]])
    assert len(recorder.answers) > 10
