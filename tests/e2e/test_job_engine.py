"""The job engine under real conditions: live event streams, two deploys at once, cancel, a killed
worker, a restarted broker, and a server that does not answer.

What the engine decides (locks and turns, timeouts, rollbacks, a lost worker's job settled) is proven over
a scripted runner in tests/provisioner/engine; idempotent requests in tests/api/test_jobs.py. These tests
keep what only the real chain shows: real processes, signals, Redis and SSH.

Real parts: PostgreSQL, Redis, the provisioner's api, worker and beat as separate processes (production
mode), sshd servers on their own loopback addresses, Docker Engine, and the homepage images pulled from
the local registry. One stack, with a database and a Redis of its own, serves all the tests here.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import docker
import httpx
import pytest
import yaml

from tests.support.api_client import FINISHED, ApiClient, new_tenant
from tests.support.db import fresh_postgres
from tests.support.lab import (
    JOB_TIMEOUT,
    add_server,
    approve,
    leftovers,
    remove_instance,
    remove_through_api,
    request_instance,
)
from tests.support.processes import alive, descendants
from tests.support.proxy import get_by_hostname, remove_proxies, root_ca
from tests.support.redis_server import RedisServer, private_redis
from tests.support.sshd import TestServer
from tests.support.stack import Stack, free_port, production_stack

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
QUEUE = "provisioner"  # the Celery queue the jobs travel on
T = TypeVar("T")


def wait_for(check: Callable[[], T | None], *, timeout: float, what: str, every: float = 0.2) -> T:
    """Poll ``check`` until it returns something other than None (or False), at most ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(every)


@dataclass
class Engine:
    """A running production stack with two good servers and one association, and helpers to drive it."""

    stack: Stack
    operator: ApiClient
    tenant: ApiClient
    tenant_id: str
    servers: dict[str, str]  # name -> id
    docker: docker.DockerClient
    client_key: Path
    broker: RedisServer
    root_dirs: list[Path]  # the servers' folders for instance files
    addresses: dict[str, str]  # server id -> its address
    created: list[str] = field(default_factory=list)

    def page(self, instance_id: str, path: str = "/") -> httpx.Response:
        """The instance's site, by hostname through its server's proxy, over TLS from the proxy's CA."""
        instance = self.instance(instance_id)
        server_id = instance["server"]
        ca_pem = root_ca(self.docker, server_id)
        return get_by_hostname(instance["url"], address=self.addresses[server_id], ca_pem=ca_pem, path=path)

    def request(self, name: str, template: str = "homepage") -> str:
        parameters = {"title": f"Verein {name}"}
        instance = request_instance(self.tenant, template=template, name=name, parameters=parameters)
        self.created.append(instance["id"])
        return str(instance["id"])

    def approve(self, instance_id: str, server: str = "server1") -> str:
        return approve(self.operator, instance_id, self.servers[server])

    def job(self, job_id: str) -> dict[str, Any]:
        job: dict[str, Any] = self.operator.call("GET", f"/api/v1/jobs/{job_id}", expect=200)
        return job

    def events(self, job_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.operator.call("GET", f"/api/v1/jobs/{job_id}/events", expect=200)[
            "items"
        ]
        return items

    def instance(self, instance_id: str) -> dict[str, Any]:
        instance: dict[str, Any] = self.operator.call("GET", f"/api/v1/instances/{instance_id}", expect=200)
        return instance

    def wait(self, job_id: str, timeout: float = JOB_TIMEOUT) -> dict[str, Any]:
        job, _ = self.operator.wait_for_job(job_id, timeout=timeout)
        return job

    def wait_for_event(self, job_id: str, line: str, timeout: float = 120) -> list[dict[str, Any]]:
        def seen() -> list[dict[str, Any]] | None:
            events = self.events(job_id)
            if any(e["line"].startswith(line) for e in events):
                return events
            job = self.job(job_id)
            assert job["status"] not in FINISHED, f"the job ended before {line!r}: {job}"
            return None

        return wait_for(seen, timeout=timeout, what=f"event {line!r} of job {job_id}")

    def remove(self, *instance_ids: str) -> None:
        """Remove through the API and check that nothing of them is left in Docker."""
        for instance_id in instance_ids:
            remove_through_api(self.operator, instance_id)
            assert self.instance(instance_id)["state"] == "removed"
            assert leftovers(self.docker, instance_id) == []

    def sweep(self, instance_ids: list[str]) -> None:
        """What the instances left on the servers goes: Docker objects by label, and their folders.

        Quicker than a removal job, for tests about something else than removal.
        """
        for instance_id in instance_ids:
            remove_instance(self.docker, instance_id)
            for root in self.root_dirs:
                shutil.rmtree(root / "instances" / instance_id, ignore_errors=True)


@contextmanager
def running_engine(
    data_dir: Path,
    *,
    database_url: str,
    broker: RedisServer,
    servers: list[TestServer],
    registry: str,
    docker_client: docker.DockerClient,
    env: dict[str, str],
) -> Iterator[Engine]:
    with ExitStack() as cleanup:
        stack = cleanup.enter_context(
            production_stack(
                data_dir,
                database_url=database_url,
                broker_url=broker.url,
                ssh_key=servers[0].client_key,
                registry=registry,
                env=env,
            )
        )
        operator = cleanup.enter_context(ApiClient(stack.base_url, stack.operator_token))
        server_ids = {server.name: add_server(operator, server, cpu=4) for server in servers}
        tenant_id, tenant = new_tenant(operator, stack.base_url, "verein-engine")
        cleanup.enter_context(tenant)
        engine = Engine(
            stack=stack,
            operator=operator,
            tenant=tenant,
            tenant_id=tenant_id,
            servers=server_ids,
            docker=docker_client,
            client_key=servers[0].client_key,
            broker=broker,
            root_dirs=[server.root_dir for server in servers],
            addresses={server_ids[server.name]: server.address for server in servers},
        )
        cleanup.callback(remove_proxies, docker_client, list(server_ids.values()))
        cleanup.callback(lambda: engine.sweep(engine.created))
        yield engine


@pytest.fixture(scope="module")
def templates_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The homepage template, and ``slowpage``: the same service whose health check never passes.

    A slowpage deploy runs the real playbook over real SSH against real Docker, and then spends about a
    minute in the playbook's "wait until healthy" loop (30 tries, 2 s apart), because its health path is
    one the image answers with 404. It stands in for a slow deploy, one long enough to cancel or kill.
    """
    root = tmp_path_factory.mktemp("templates")
    source = REPO / "service_templates" / "homepage"
    for name in ("homepage", "slowpage"):
        shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("image"))
    path = root / "slowpage" / "template.yaml"
    template = yaml.safe_load(path.read_text())
    template["name"] = "slowpage"
    template["health"] = {"path": "/no-such-page", "expect_status": 200}
    path.write_text(yaml.safe_dump(template, allow_unicode=True, sort_keys=False))
    return root


@pytest.fixture(scope="module")
def shared_engine(
    tmp_path_factory: pytest.TempPathFactory,
    postgres: None,  # says what is missing when PostgreSQL is
    ssh_servers: list[TestServer],
    homepage_images: dict[str, str],  # the images the deploys pull
    registry: str,
    docker_client: docker.DockerClient,
    templates_dir: Path,
) -> Iterator[Engine]:
    """One production stack for all the tests here; each leaves it as it found it.

    It has a database and a Redis of its own: a stack of another test session on this machine must not
    take its jobs off the queue, nor it theirs; and the broker test restarts that Redis.
    """
    with (
        private_redis(tmp_path_factory.mktemp("redis"), free_port()) as broker,
        fresh_postgres() as database_url,
        running_engine(
            tmp_path_factory.mktemp("engine"),
            database_url=database_url,
            broker=broker,
            servers=ssh_servers,
            registry=registry,
            docker_client=docker_client,
            env={
                "PROVISIONER_TEMPLATES_DIR": str(templates_dir),
                "PROVISIONER_WORKER_LOST_AFTER_SECONDS": "20",
                "PROVISIONER_REDISPATCH_AFTER_SECONDS": "5",
            },
        ) as running,
    ):
        yield running


@pytest.fixture
def engine(shared_engine: Engine) -> Iterator[Engine]:
    """The shared stack; what a test deployed goes when it ends (also when it fails halfway)."""
    created_before = len(shared_engine.created)
    yield shared_engine
    shared_engine.sweep(shared_engine.created[created_before:])


def playbooks_of(root: int) -> list[int]:
    """The ansible-playbook processes below a process."""
    found = []
    for pid in descendants(root):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(part.endswith(b"ansible-playbook") for part in command):
            found.append(pid)
    return found


# --- Server-sent events -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sse:
    event: str
    id: str | None
    data: str


def read_sse(response: httpx.Response, *, until: Callable[[list[Sse]], bool] | None = None) -> list[Sse]:
    """Parse an event stream until it ends, or until ``until`` says enough."""
    received: list[Sse] = []
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line == "":
            if "data" in fields:
                received.append(Sse(fields.get("event", "message"), fields.get("id"), fields["data"]))
                if until is not None and until(received):
                    break
            fields = {}
            continue
        if line.startswith(":"):
            continue  # a comment: the keep-alive
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        fields[name] = f"{fields[name]}\n{value}" if name == "data" and "data" in fields else value
    return received


def test_event_stream_is_live_and_resumes_without_gaps_or_duplicates(engine: Engine) -> None:
    """One deploy's events streamed live, while a second deploy runs at once on the other server."""
    instance_id, beside_id = engine.request("live"), engine.request("beside")
    job_id = engine.approve(instance_id)
    beside_job_id = engine.approve(beside_id, server="server2")
    url = f"/api/v1/jobs/{job_id}/events"
    sse = {"Accept": "text/event-stream"}
    timeout = httpx.Timeout(30)

    with engine.operator.http.stream("GET", url, headers=sse, timeout=timeout) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        first = read_sse(response, until=lambda got: len(got) >= 3)
    # Leaving the block hung up midway; the job still runs, so those events came live.
    assert engine.job(job_id)["status"] == "running"
    assert [e.event for e in first] == ["job-event"] * 3

    with engine.operator.http.stream(
        "GET", url, headers={**sse, "Last-Event-ID": first[-1].id or ""}, timeout=timeout
    ) as response:
        assert response.status_code == 200
        rest = read_sse(response)

    assert rest[-1].event == "end"
    assert json.loads(rest[-1].data) == {"job": job_id}
    assert all(e.event == "job-event" for e in rest[:-1])
    streamed = [json.loads(e.data) for e in first + rest[:-1]]
    assert [e.id for e in first + rest[:-1]] == [str(e["seq"]) for e in streamed]

    job = engine.job(job_id)
    assert job["status"] == "succeeded", job["error"]
    listed = engine.events(job_id)
    # Nothing missing, nothing twice, in order: the union of both streams is exactly the stored list.
    assert streamed == listed
    assert [e["seq"] for e in listed] == sorted({e["seq"] for e in listed})
    assert listed[-1]["line"] == "Finished"

    beside = engine.wait(beside_job_id)
    assert beside["status"] == "succeeded", beside["error"]
    # The worker (concurrency 2) ran both deploys at once: each started before the other ended.
    (start_a, end_a), (start_b, end_b) = map(_interval, (job, beside))
    assert start_a < end_b
    assert start_b < end_a

    assert_no_secrets(engine)


def _interval(job: dict[str, Any]) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(job["started_at"]), datetime.fromisoformat(job["finished_at"])


# --- Secrets ------------------------------------------------------------------------------------------------


def assert_no_secrets(engine: Engine) -> None:
    """The control plane's private SSH key (and its secret key) appears in no event, no job output, no log
    and no file the stack keeps."""
    key = engine.client_key.read_text()
    body = [
        line.strip()
        for line in key.splitlines()
        if line.strip() and not line.startswith("-----") and len(line.strip()) >= 16
    ]
    assert body, "the key file has a base64 body"
    needles = [key.strip(), *body, engine.stack.env["PROVISIONER_SECRET_KEY"]]

    jobs: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = engine.operator.call(
            "GET", "/api/v1/jobs" + (f"?cursor={cursor}" if cursor else ""), expect=200
        )
        jobs += page["items"]
        cursor = page["next"]
        if not cursor:
            break
    texts: dict[str, str] = {}
    for job in jobs:
        events = engine.events(job["id"])
        texts[f"job {job['id']} events"] = "\n".join(f"{e['line']}\n{e['stdout']}" for e in events)
        texts[f"job {job['id']} stdout"] = engine.operator.http.get(f"/api/v1/jobs/{job['id']}/stdout").text
        texts[f"job {job['id']} error"] = job["error"] or ""
    assert any("Finished" in text for text in texts.values()), "at least one full run to look at"
    # The logs, and whatever else the control plane keeps in its data folder (a killed worker leaves
    # its run folder behind, for one).
    data_dir = Path(engine.stack.env["PROVISIONER_DATA_DIR"])
    for path in data_dir.rglob("*"):
        if path.is_file():  # not the FIFOs ansible-runner hands the key through
            texts[str(path.relative_to(data_dir))] = path.read_bytes().decode(errors="replace")
    for where, text in texts.items():
        for needle in needles:
            assert needle not in text, f"a secret in {where}"


# --- Cancel -------------------------------------------------------------------------------------------------


def test_cancel_stops_a_running_long_deploy_within_seconds(
    engine: Engine, record_property: Callable[[str, object], None]
) -> None:
    """A slowpage deploy (see ``templates_dir``) is canceled while it waits for health."""
    instance_id = engine.request("slow", template="slowpage")
    job_id = engine.approve(instance_id)
    engine.wait_for_event(job_id, "Step: Wait until the service answers through the proxy")
    # It is in the loop now: the first tries have failed and Ansible says it retries.
    wait_for(
        lambda: any("RETRYING" in e["stdout"] for e in engine.events(job_id)),
        timeout=30,
        what="the health check loop",
    )

    started = time.monotonic()
    asked = engine.operator.call("POST", f"/api/v1/jobs/{job_id}/cancel", expect=202)
    assert asked["status"] == "running"
    assert asked["cancel_requested"] is True
    job = wait_for(
        lambda: (j := engine.job(job_id))["status"] in FINISHED and j,
        timeout=30,
        what="the canceled job to end",
        every=0.1,
    )
    latency = time.monotonic() - started
    record_property("cancel_latency_s", round(latency, 2))
    print(f"cancel latency: {latency:.2f} s")  # a figure for the report

    assert job["status"] == "canceled"
    assert latency < 10
    instance = engine.instance(instance_id)
    assert instance["state"] == "failed"
    assert "canceled" in instance["state_reason"]
    # The run really stopped: the worker has no playbook running any more.
    assert playbooks_of(engine.stack.processes["worker"].pid) == []
    engine.remove(instance_id)


# --- A worker that dies -------------------------------------------------------------------------------------


def test_killed_worker_job_is_reaped_and_instance_freed(
    engine: Engine, record_property: Callable[[str, object], None]
) -> None:
    """SIGKILL to the worker mid-deploy; the reaper (WORKER_LOST_AFTER_SECONDS=20) fails the job."""
    stack = engine.stack
    instance_id = engine.request("killed")
    job_id = engine.approve(instance_id)
    engine.wait_for_event(job_id, "Step: Start the instance behind the server's proxy")
    playbooks = playbooks_of(stack.processes["worker"].pid)
    assert playbooks, "a playbook runs for the job"

    killed = stack.kill("worker")
    lost_at = time.monotonic()
    assert engine.job(job_id)["status"] == "running", "killed mid-deploy, not after"
    assert set(playbooks) < killed, "the playbook went with the worker and its pool"
    wait_for(lambda: not any(map(alive, killed)), timeout=10, what="every killed process to be gone")
    # A service manager starts the worker again; the new one runs the reaper that beat schedules.
    stack.start("worker")

    job = wait_for(
        lambda: (j := engine.job(job_id))["status"] != "running" and j,
        timeout=60,
        what="the job of the killed worker to be given up",
        every=0.5,
    )
    reaped_after = time.monotonic() - lost_at
    record_property("reaped_after_s", round(reaped_after, 1))
    print(f"job of the killed worker failed {reaped_after:.1f} s after the kill")
    assert job["status"] == "failed"
    assert job["error"].startswith("worker lost"), job["error"]
    instance = engine.instance(instance_id)
    assert instance["state"] == "failed"
    assert instance["state_reason"] == job["error"]

    # The lock is free: a redeploy is accepted, runs, and converges on one set of containers.
    redeploy = engine.operator.call("POST", f"/api/v1/instances/{instance_id}/redeploy", expect=202)
    job = engine.wait(redeploy["job"]["id"])
    assert job["status"] == "succeeded", job["error"]
    instance = engine.instance(instance_id)
    assert (instance["state"], instance["health"]) == ("running", "healthy")
    assert sorted(leftovers(engine.docker, instance_id)) == [
        f"prv-{instance_id}",
        f"prv-{instance_id}-site",
        f"prv-{instance_id}-web",
    ]
    assert engine.page(instance_id).status_code == 200

    assert_no_secrets(engine)


# --- A server that does not answer --------------------------------------------------------------------------


def test_an_unreachable_server_fails_its_job_in_one_line_and_others_still_deploy(
    engine: Engine, ssh_servers: list[TestServer], tmp_path: Path
) -> None:
    # A loopback address of this session's network where nothing listens: connections are refused.
    address = ssh_servers[0].address.rsplit(".", 1)[0] + ".13"
    with pytest.raises(ConnectionRefusedError), socket.create_connection((address, 22), timeout=5):
        pass
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "host_key")],
        check=True,
        capture_output=True,
    )
    host_key = " ".join((tmp_path / "host_key.pub").read_text().split()[:2])
    offline = engine.operator.call(
        "POST",
        "/api/v1/servers",
        expect=201,
        json={
            "name": "offline",
            "address": address,
            "host_key": host_key,
            "capacity": {"cpu": 2, "memory_mb": 2048, "disk_gb": 20},
        },
    )
    engine.servers["offline"] = offline["id"]
    assert offline["host_key"] == host_key

    stranded, fine = engine.request("stranded"), engine.request("fine")
    stranded_job, fine_job = (
        engine.approve(stranded, server="offline"),
        engine.approve(fine, server="server1"),
    )
    failed, succeeded = engine.wait(stranded_job), engine.wait(fine_job)

    assert failed["status"] == "failed"
    assert (
        failed["error"]
        == "server offline unreachable: SSH connection refused (is sshd running on that port?)"
    )
    instance = engine.instance(stranded)
    assert instance["state"] == "failed"
    assert failed["error"] in instance["state_reason"]
    assert "\n" not in instance["state_reason"]
    assert leftovers(engine.docker, stranded) == []

    assert succeeded["status"] == "succeeded", succeeded["error"]
    assert (engine.instance(fine)["state"], engine.instance(fine)["health"]) == ("running", "healthy")
    assert_no_secrets(engine)


# --- A broker that forgets ----------------------------------------------------------------------------------


def _run_job_messages(redis_server: RedisServer) -> list[str]:
    """The job ids of the run_job messages waiting in the broker's queue."""
    with redis_server.client() as client:
        messages = [json.loads(raw) for raw in client.lrange(QUEUE, 0, -1)]
    return [m["headers"]["argsrepr"] for m in messages if m["headers"]["task"] == "provisioner.run_job"]


def test_jobs_queued_when_the_broker_restarts_still_run(engine: Engine) -> None:
    """The stack's Redis keeps nothing on disk. It is restarted with two deploy messages in it: they are
    gone, the jobs are still queued in the database, and the redispatch loop (every 15 s, for jobs queued
    longer than PROVISIONER_REDISPATCH_AFTER_SECONDS=5) sends them again."""
    engine.stack.stop("worker")
    instances = [engine.request("broker-1"), engine.request("broker-2")]
    jobs = [engine.approve(instances[0], server="server1"), engine.approve(instances[1], server="server2")]
    assert {f"['{job_id}']" for job_id in jobs} <= set(_run_job_messages(engine.broker))

    engine.broker.restart()
    assert _run_job_messages(engine.broker) == [], "the restart lost the messages"
    assert [engine.job(job_id)["status"] for job_id in jobs] == ["queued", "queued"]

    log_offset = engine.stack.log("worker").stat().st_size
    engine.stack.start("worker")
    done = [engine.wait(job_id, timeout=120) for job_id in jobs]
    assert [job["status"] for job in done] == ["succeeded", "succeeded"], [job["error"] for job in done]
    worker_log = engine.stack.log("worker").read_bytes()[log_offset:].decode(errors="replace")
    resent = re.findall(r"redispatch_stale_jobs\[[^]]+\] succeeded in [0-9.]+s: (\d+)", worker_log)
    assert sum(map(int, resent)) >= 2, "the redispatch loop sent them again"
    # The API reaches the restarted broker too: a job it sends now runs (a removal of an instance that
    # was never deployed, which takes no time).
    never_deployed = engine.request("broker-3")
    engine.remove(never_deployed)
