"""Monitoring end to end: a real deployed instance watched by the real scheduler and worker processes,
alerts over real SMTP, and two schedulers racing on PostgreSQL.

Real parts: PostgreSQL, Redis, the provisioner's API, worker and beat processes, an sshd test server,
Docker Engine with the homepage image from the local registry, and an aiosmtpd SMTP sink.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import docker
import pytest
from sqlalchemy import select, update

from provisioner.db import transaction
from provisioner.i18n import compiled_translations
from provisioner.instances.states import InstanceState
from provisioner.labels import LABEL_INSTANCE
from provisioner.messages import reworded
from provisioner.models import Instance, Job, Schedule
from provisioner.notices.render import catalogue_path
from provisioner.timeutil import utcnow
from tests.support.api_client import ApiClient, new_tenant
from tests.support.lab import (
    add_server,
    add_sftp_target,
    approve,
    remove_through_api,
    request_instance,
    succeeded,
)
from tests.support.processes import kill_tree
from tests.support.proxy import remove_proxies
from tests.support.smtp_sink import SmtpSink, smtp_sink
from tests.support.sshd import TestServer
from tests.support.stack import Stack, production_stack, provisioner

pytestmark = pytest.mark.e2e

OPERATORS = "ops@lab.example"
BOARD = "board@verein-watch.example.org"
GERMAN = compiled_translations(catalogue_path("de"), "de").gettext


def _by_recipient(messages: list[EmailMessage]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for message in messages:
        found.setdefault(str(message["To"]), []).append(str(message["Subject"]))
    return found


def _wait_health(client: ApiClient, instance_id: str, wanted: str, *, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health: dict[str, Any] = client.call("GET", f"/api/v1/instances/{instance_id}/health", expect=200)
        if health["health"] == wanted:
            return health
        time.sleep(0.5)
    raise AssertionError(f"{instance_id} did not become {wanted} within {timeout} s: {health}")


def _assert_json_logs(stack: Stack, *, job_id: str) -> None:
    """Every line is one JSON object; the server's access lines name their request, the job's its job."""
    api = [json.loads(line) for line in stack.log("api").read_text().splitlines()]
    worker = [json.loads(line) for line in stack.log("worker").read_text().splitlines()]
    access = [line for line in api if line["logger"] == "uvicorn.access"]
    assert access
    assert all(re.fullmatch(r"[0-9a-f]{32}", line["request_id"]) for line in access)
    assert len({line["request_id"] for line in access}) == len(access)
    of_the_job = [line["message"] for line in worker if line["job_id"] == job_id]
    assert of_the_job[0] == "taking the job"
    assert of_the_job[-1] == "done with the job"
    assert any(message.startswith("Task provisioner.run_job[") for message in of_the_job)
    # httpx names each URL it asks at INFO (a webhook's URL is its secret): not one of those is logged.
    assert not [line for line in api + worker if line["logger"].startswith(("httpx", "httpcore"))]


def test_a_stopped_instance_alerts_once_and_its_recovery_once(
    tmp_path: Path,
    pg_url: str,
    redis_url: str,
    ssh_servers: list[TestServer],
    homepage_images: dict[str, str],
    registry: str,
    docker_client: docker.DockerClient,
) -> None:
    server = ssh_servers[0]
    with ExitStack() as cleanup:
        sink: SmtpSink = cleanup.enter_context(smtp_sink())
        settings = {
            "PROVISIONER_HEALTH_SWEEP_SECONDS": "3",
            "PROVISIONER_METRICS_INTERVAL_SECONDS": "5",
            "PROVISIONER_ALERT_UNHEALTHY_AFTER_MINUTES": "0",
            "PROVISIONER_ALERT_DIGEST_SECONDS": "1",
            "PROVISIONER_ALERT_OPERATOR_EMAILS": OPERATORS,
            # The lines a log collector reads: checked below on the API's and the worker's real output.
            "PROVISIONER_LOG_FORMAT": "json",
        } | sink.env()
        stack: Stack = cleanup.enter_context(
            production_stack(
                tmp_path,
                database_url=pg_url,
                broker_url=redis_url,
                ssh_key=server.client_key,
                registry=registry,
                env=settings,
            )
        )
        operator = cleanup.enter_context(ApiClient(stack.base_url, stack.operator_token))
        server_id = add_server(operator, server)
        cleanup.callback(remove_proxies, docker_client, [server_id])
        _, verein = new_tenant(operator, stack.base_url, "verein-watch")
        cleanup.enter_context(verein)
        parameters = {"title": "Verein"}
        instance_id = request_instance(verein, template="homepage", name="site", parameters=parameters)["id"]
        job = succeeded(verein, approve(operator, instance_id, server_id))
        cleanup.callback(_remove_containers, docker_client, instance_id)
        _assert_json_logs(stack, job_id=job["id"])

        # The worker tells the association its service is ready, in German (the lab's language), with
        # its address; the operators heard of the request when it came.
        [ready] = [
            m for m in sink.wait_for(2, to=BOARD) if str(m["Subject"]) == "Ihr Dienst ist bereit: site"
        ]
        url = verein.call("GET", f"/api/v1/instances/{instance_id}", expect=200)["url"]
        plain, html = ready.get_body(("plain",)), ready.get_body(("html",))
        assert plain is not None
        assert html is not None
        assert url in plain.get_content()
        assert 'lang="de"' in html.get_content()
        assert [str(m["Subject"]) for m in sink.wait_for(1, to=OPERATORS)] == [
            "Neue Anfrage von verein-watch e.V.: site"
        ]
        sink.clear()

        # The sweep verifies TLS against the proxy's own CA, fetched over SSH: healthy means verified.
        _wait_health(verein, instance_id, "healthy")
        container = docker_client.containers.get(f"prv-{instance_id}-web")
        container.stop(timeout=5)
        sick = _wait_health(verein, instance_id, "unhealthy", timeout=2 * 3 + 30)
        assert sick["changes"][0]["current"] == "unhealthy"
        alerted = _by_recipient(sink.wait_for(2))
        time.sleep(8)  # several more sweeps: still one message each
        alerted = _by_recipient(sink.messages)
        # The summary as the sweep wrote it, worded for German readers as the mail words it.
        summary = reworded(f"site (homepage) is unhealthy: {_detail(sick)}", GERMAN, known=str, foreign=str)
        assert summary.startswith("site (homepage) antwortet nicht: ")
        assert alerted == {
            OPERATORS: [f"[provisioner] ALARM Dienst gestört: {summary}"],
            BOARD: [f"[provisioner] ALARM Dienst gestört: {summary}"],
        }

        sink.clear()
        container.start()
        _wait_health(verein, instance_id, "healthy", timeout=60)
        sink.wait_for(2)
        time.sleep(8)
        assert _by_recipient(sink.messages) == {
            OPERATORS: ["[provisioner] BEHOBEN Dienst gestört: site funktioniert wieder."],
            BOARD: ["[provisioner] BEHOBEN Dienst gestört: site funktioniert wieder."],
        }
        alerts = operator.call("GET", "/api/v1/alerts", expect=200)["items"]
        assert [(a["kind"], a["status"]) for a in alerts] == [("instance_unhealthy", "resolved")]

        # The server's collection shows the instance's footprint.
        metrics = operator.call("GET", f"/api/v1/servers/{server_id}", expect=200)["metrics"]
        assert metrics["reachable"] is True
        assert metrics["disk_total_mb"] > 0
        # A collection made while the container was stopped has the instance's volumes but no memory.
        deadline = time.monotonic() + 30
        while (
            metrics["instances"].get(instance_id, {}).get("memory_mb", 0) == 0 and time.monotonic() < deadline
        ):
            time.sleep(1)
            metrics = operator.call("GET", f"/api/v1/servers/{server_id}", expect=200)["metrics"]
        assert metrics["instances"][instance_id]["memory_mb"] > 0
        # du over SSH measured its volume and folder; the health answer carries the same figures.
        assert metrics["instances"][instance_id]["disk_mb"] > 0
        health = verein.call("GET", f"/api/v1/instances/{instance_id}/health", expect=200)
        assert health["footprint"]["disk_mb"] > 0

        remove_through_api(verein, instance_id)


def _remove_containers(client: docker.DockerClient, instance_id: str) -> None:
    """Only matters when the test failed before it removed the instance through the API."""
    for container in client.containers.list(all=True, filters={"label": f"{LABEL_INSTANCE}={instance_id}"}):
        container.remove(force=True)


def _detail(health: dict[str, Any]) -> str:
    detail: str = health["changes"][0]["detail"]
    return detail


def test_two_schedulers_start_a_scheduled_backup_once_and_catch_up_once(
    tmp_path: Path,
    pg_url: str,
    redis_url: str,
    ssh_servers: list[TestServer],
    registry: str,
) -> None:
    server = ssh_servers[1]
    with production_stack(
        tmp_path / "one",
        database_url=pg_url,
        broker_url=redis_url,
        ssh_key=server.client_key,
        registry=registry,
    ) as stack:
        # The second scheduler: its own data folder (schedule file), the same database and broker.
        second_env = stack.env | {"PROVISIONER_DATA_DIR": str(tmp_path / "two")}
        (tmp_path / "two").mkdir()
        with (tmp_path / "beat2.log").open("ab") as log:
            second = subprocess.Popen(
                [sys.executable, "-m", "provisioner", "beat"],
                env=second_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            with ApiClient(stack.base_url, stack.operator_token) as operator:
                server_id = add_server(operator, server)
                # A backup needs a target to start at all; how the backup then ends (the instance was never
                # deployed) does not matter here: what counts is how many backup jobs start.
                add_sftp_target(operator, ssh_servers[0], ssh_servers[0].root_dir / "backups")
                _, verein = new_tenant(operator, stack.base_url, "verein-beat")
                with verein:
                    instance_id = verein.call(
                        "POST",
                        "/api/v1/instances",
                        expect=201,
                        json={"template": "wordpress", "name": "blog", "parameters": {}},
                    )["id"]
                    # A nightly backup that the association sets up for its instance.
                    schedule = verein.call(
                        "POST",
                        "/api/v1/schedules",
                        expect=201,
                        json={"kind": "backup", "instance": instance_id, "cron": "0 3 * * *"},
                    )
            url = stack.env["PROVISIONER_DATABASE_URL"]
            with transaction(url) as session:
                # As a finished deploy leaves it; and the scheduler was down for a week: seven runs missed.
                session.execute(
                    update(Instance)
                    .where(Instance.id == instance_id)
                    .values(state=InstanceState.RUNNING.value, server_id=server_id)
                )
                session.execute(
                    update(Schedule)
                    .where(Schedule.id == schedule["id"])
                    .values(next_run_at=utcnow() - timedelta(days=7))
                )
            # Each scheduler sends the schedules task every 15 s; wait for two rounds of both.
            _wait_for_rounds(stack, rounds=4, timeout=90)
            with transaction(url) as session:
                backups = session.scalars(select(Job).where(Job.kind == "backup")).unique().all()
                next_run = session.get_one(Schedule, schedule["id"]).next_run_at
            assert len(backups) == 1
            assert backups[0].instance_id == instance_id
            assert backups[0].requested_by == "system"
            assert next_run > utcnow()
            assert "Sending due task run-schedules" in (tmp_path / "beat2.log").read_text()
            assert "Sending due task run-schedules" in stack.log("beat").read_text()
            # The container health checks of docker-compose.yml, run where the processes run.
            assert "answered" in provisioner("healthcheck", "worker", env=stack.env)
            assert "written" in provisioner("healthcheck", "beat", env=stack.env)
        finally:
            kill_tree(second.pid)
            second.wait(timeout=30)


def _wait_for_rounds(stack: Stack, *, rounds: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = stack.log("worker").read_text().count("Task provisioner.run_schedules[")
        if done >= rounds * 2:  # received and succeeded
            return
        time.sleep(1)
    raise AssertionError(f"the worker ran the schedules task fewer than {rounds} times in {timeout} s")
