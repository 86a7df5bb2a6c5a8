"""Helpers of deploy_overhead.py: process memory, temporary databases, Docker tidying, job facts, and the
plain ansible-playbook run."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import docker
import docker.errors
import psycopg
import redis
import yaml
from psycopg import sql
from sqlalchemy import delete, select, text

from provisioner.db import transaction
from provisioner.jobs.service import EventRecord, add_events
from provisioner.labels import LABEL_INSTANCE
from provisioner.models import Job, JobEvent
from provisioner.runner.adapter import _inventory, _known_hosts_line, ansible_environment
from provisioner.runner.spec import RunSpec
from provisioner.runner.unsafe import dump_unsafe
from tests.support.db import PG_ADMIN
from tests.support.proxy import remove_proxies

PAGE = os.sysconf("SC_PAGE_SIZE")
REPLAY_SEQ = 1_000_000  # replayed events get sequence numbers above the real ones and are deleted again


class BenchError(RuntimeError):
    pass


def processes() -> Iterator[tuple[int, int, int]]:
    """(pid, parent pid, resident bytes) of every process, from /proc/PID/stat."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, IndexError):
            # The command name in parentheses may hold spaces; the fields after it are plain.
            fields = stat.read_text().rsplit(")", 1)[1].split()
            yield int(stat.parent.name), int(fields[1]), int(fields[21]) * PAGE


def tree_rss(root: int) -> int:
    """Resident bytes of a process and all its descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for pid, parent, resident in processes():
        children.setdefault(parent, []).append(pid)
        rss[pid] = resident
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


@contextmanager
def peak_rss(root: int) -> Iterator[list[int]]:
    """Samples a process tree every 50 ms while the block runs; the list's one item ends as the peak."""
    peak, stop = [tree_rss(root)], threading.Event()

    def sample() -> None:
        while not stop.wait(0.05):
            peak[0] = max(peak[0], tree_rss(root))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()


def find_worker() -> int:
    """The pid of `provisioner worker`, which production_stack started as a child of this process."""
    for pid, parent, _ in processes():
        with suppress(OSError, IndexError):
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if parent == os.getpid() and argv[3] == b"worker":
                return pid
    raise BenchError("the worker process of the stack was not found")


@contextmanager
def temp_database() -> Iterator[str]:
    name = sql.Identifier(f"provisioner_bench_{os.getpid()}_{secrets.token_hex(3)}")
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(name))
        try:
            yield f"postgresql+psycopg://provisioner:provisioner@127.0.0.1:5432/{name.as_string()[1:-1]}"
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


@contextmanager
def temp_redis(number: int) -> Iterator[str]:
    url = f"redis://127.0.0.1:6379/{number}"
    with redis.Redis.from_url(url, socket_timeout=5) as client:
        if client.dbsize():
            raise BenchError(f"Redis database {number} is in use; choose an empty one with --redis-db")
        try:
            yield url
        finally:
            client.flushdb()


def remove_leftovers(client: docker.DockerClient, instance_ids: list[str], server_ids: list[str]) -> None:
    """This run's instances (by label; others share the Engine), then its server's proxy.

    Says what it could not remove rather than raising, so the error that stopped the run stays visible.
    """
    for instance_id in instance_ids:
        owned = {"label": f"{LABEL_INSTANCE}={instance_id}"}
        try:
            for container in client.containers.list(all=True, filters=owned):
                container.remove(force=True)
            for network in client.networks.list(filters=owned, greedy=True):  # greedy: with its endpoints
                for container in network.attrs.get("Containers") or {}:
                    network.disconnect(container, force=True)  # the proxy joins instance networks
                network.remove()
            for volume in client.volumes.list(filters=owned):
                volume.remove(force=True)
        except docker.errors.APIError as exc:
            print(f"deploy_overhead: could not remove all of instance {instance_id}: {exc}", file=sys.stderr)
    try:
        remove_proxies(client, server_ids)
    except docker.errors.APIError as exc:
        print(f"deploy_overhead: could not remove the proxy of {server_ids}: {exc}", file=sys.stderr)


def deploy_facts(db: str, job_id: str) -> dict[str, float]:
    """A deploy job's phases from its timestamps, its stored events, and the time to write those again."""
    query = text(
        "SELECT count(*), sum(pg_column_size(e.*)), min(created_at) FILTER (WHERE line LIKE 'Play:%'),"
        " max(created_at) FROM job_events e WHERE job_id = :job"
    )
    fields = ("created_at", "host", "task", "status", "line", "stdout")
    with transaction(db) as session:
        job = session.get_one(Job, job_id)
        count, size, play, last = session.execute(query, {"job": job_id}).one()
        rows = session.scalars(select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.seq))
        records = [EventRecord(r.seq + REPLAY_SEQ, *(getattr(r, f) for f in fields)) for r in rows]
    # Batched as the worker's DatabaseSink does: up to 50 events or 0.5 s, one transaction each.
    batches: list[list[EventRecord]] = []
    for record in records:
        batch = batches[-1] if batches else []
        if batch and len(batch) < 50 and (record.created_at - batch[0].created_at).total_seconds() < 0.5:
            batch.append(record)
        else:
            batches.append([record])
    started = time.perf_counter()
    for batch in batches:
        with transaction(db) as session:
            add_events(session, job_id=job_id, events=batch)
    write_ms = (time.perf_counter() - started) * 1000
    with transaction(db) as session:
        session.execute(delete(JobEvent).where(JobEvent.job_id == job_id, JobEvent.seq >= REPLAY_SEQ))
    stamps = [
        job.created_at,
        job.dispatched_at or job.created_at,
        job.started_at,
        play,
        last,
        job.finished_at,
    ]
    phases = ("dispatch_s", "claim_s", "start_s", "playbook_s", "settle_s")
    facts = {
        name: (end - begin).total_seconds()
        for name, begin, end in zip(phases, stamps, stamps[1:], strict=False)
    }
    facts["server_s"] = (job.finished_at - job.created_at).total_seconds()
    return facts | {"events": count, "event_kib": size / 1024, "write_ms": write_ms, "batches": len(batches)}


def raw_run(client: docker.DockerClient, image: str, address: str, label: str) -> float:
    """The raw tool: `docker run` of the image, published on the server's address, until its health
    endpoint first answers 200; the container is removed again. Returns the seconds until that 200."""
    started = time.monotonic()
    container = client.containers.run(
        image, detach=True, ports={"80/tcp": (address, None)}, labels={LABEL_INSTANCE: label}
    )
    try:
        container.reload()
        port = container.attrs["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"]
        while time.monotonic() - started < 60:
            url = f"http://{address}:{port}/healthz"
            with suppress(OSError), urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return time.monotonic() - started
            time.sleep(0.01)
        raise BenchError(f"{image} never answered 200 on {address}:{port}")
    finally:
        container.remove(force=True)


def plain_run(spec: RunSpec, key: Path, work: Path, *, mitogen: bool = False) -> tuple[float, int]:
    """ansible-playbook itself, with the inventory, variables, files and ssh-agent key channel of the
    adapter (with Mitogen's strategy when asked); returns the seconds it took and the peak RSS of its
    process tree."""
    private = Path(tempfile.mkdtemp(prefix="plain-", dir=work))
    inventory = _inventory(spec.host, private, spec.ssh_connect_timeout_seconds)
    (private / "hosts.yml").write_text(yaml.safe_dump(inventory))
    (private / "extravars").write_text(dump_unsafe(spec.variables))
    if spec.host.host_key:
        (private / "known_hosts").write_text(_known_hosts_line(spec.host))
    for relative, body in spec.files.items():  # the rendered files, the Caddyfile and the site block
        (private / "files" / relative).parent.mkdir(parents=True, exist_ok=True)
        (private / "files" / relative).write_text(body)
    bindir = Path(sys.executable).parent
    argv = ["ssh-agent", "sh", "-c", 'ssh-add -q "$0" && exec "$@"', str(key), f"{bindir}/ansible-playbook",
            "-i", str(private / "hosts.yml"), "-e", f"@{private / 'extravars'}",
            "-e", json.dumps({"private_dir": str(private)}), spec.playbook]  # fmt: skip
    # What provisioner.runner.adapter sets for ansible-runner, with a control path folder of its own.
    env = os.environ | ansible_environment(spec.playbooks_dir, private / "cp", mitogen=mitogen)
    with (private / "output").open("wb") as output:
        started = time.monotonic()
        process = subprocess.Popen(argv, cwd=spec.playbooks_dir, env=env, stdout=output, stderr=output)
        with peak_rss(process.pid) as peak:
            code = process.wait(timeout=spec.timeout_seconds)
        elapsed = time.monotonic() - started
    if code != 0:
        tail = "\n".join((private / "output").read_text().splitlines()[-25:])
        raise BenchError(f"plain ansible-playbook {spec.playbook} exited with {code}:\n{tail}")
    shutil.rmtree(private)
    return elapsed, peak[0]


def step_times(database_url: str, job_id: str) -> list[tuple[str, float]]:
    """Seconds per step of a finished job, from its events' times: a step lasts until the next begins.

    "(queued)" is from the request to the worker's start, "(runner start)" from there to the first
    event; the last step lasts until the job finished.
    """
    with transaction(database_url) as session:
        job = session.get_one(Job, job_id)
        events = session.scalars(
            select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.seq)
        ).all()
        marks = [("(queued)", job.created_at), ("(runner start)", job.started_at or job.created_at)]
        for event in events:
            name = event.task or event.line[:60]
            if name != marks[-1][0]:
                marks.append((name, event.created_at))
        end = job.finished_at or marks[-1][1]
    times: dict[str, float] = {}
    for (name, began), (_, following) in zip(marks, [*marks[1:], ("", end)], strict=True):
        times[name] = times.get(name, 0.0) + (following - began).total_seconds()
    return sorted(times.items(), key=lambda item: -item[1])


def step_rows(steps: dict[str, list[tuple[str, float]]], top: int = 8) -> list[str]:
    """Table rows: each job, its total, its longest steps first."""
    rows = []
    for what, times in steps.items():
        total = sum(seconds for _, seconds in times)
        shown = ", ".join(f"{name} {seconds:.1f}" for name, seconds in times[:top])
        rows.append(f"| {what} | {total:.1f} | {shown} |")
    return rows


def code_version(repo: Path) -> str:
    """The commit measured, and whether the code differs from it; read-only git calls only."""
    git = ["git", "--no-optional-locks", "-C", str(repo)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    if head.returncode != 0:
        return "not a git checkout"
    code = ["provisioner", "playbooks", "service_templates", "api"]
    changed = subprocess.run([*git, "diff", "--quiet", "HEAD", "--", *code], check=False).returncode
    return f"commit {head.stdout.strip()}" + (", with uncommitted changes" if changed else "")
