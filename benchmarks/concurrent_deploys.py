"""Concurrent deploys: N homepage deploys at once over two servers and a worker pool of two, against one.

The production stack (API, worker with ``--concurrency 2``, beat; PostgreSQL and Redis) deploys over SSH to
two sshd test servers. First ``--single`` deploys one after the other (each approved when the one before
has succeeded) give the time of one deploy; then ``--deploys`` instances, spread evenly over both servers,
are approved at once and the time until the last job succeeded is taken. With two jobs running at a time,
linear scaling would finish them in ``deploys / 2`` times one deploy; the report gives the share of that
reached. The proxies are started by a warm-up deploy on each server, not counted. Everything it started
goes at the end: instances (through the API, then by label), proxies, the database, Redis' keys. See
README.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `tests.support` when run as a script

import docker
from sqlalchemy import select

from benchmarks.deploy_overhead import build_images
from benchmarks.deploy_support import (
    BenchError,
    code_version,
    remove_leftovers,
    step_times,
    temp_database,
    temp_redis,
)
from benchmarks.results_file import publish
from provisioner.db import transaction
from provisioner.models import Job
from tests.conftest import REGISTRY
from tests.support.api_client import ApiClient, new_tenant
from tests.support.lab import add_server, approve, job_succeeded, request_instance, succeeded
from tests.support.sshd import free_address_pair, running_servers
from tests.support.stack import _tail, production_stack

REPO = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- concurrent-deploys:begin -->", "<!-- concurrent-deploys:end -->"
WORKERS = 2  # the production stack's worker pool


def load_average() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


class Lab:
    def __init__(self, cleanup: ExitStack, args: argparse.Namespace) -> None:
        self.instance_ids: list[str] = []
        self.server_ids: list[str] = []
        work = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="concurrent-deploys-")))
        self.db = cleanup.enter_context(temp_database())
        broker = cleanup.enter_context(temp_redis(args.redis_db))
        client = docker.from_env()
        cleanup.callback(client.close)
        build_images(client)
        (work / "sshd").mkdir()
        servers = cleanup.enter_context(running_servers(work / "sshd", free_address_pair()))
        cleanup.callback(remove_leftovers, client, self.instance_ids, self.server_ids)
        quota = {"PROVISIONER_QUOTA_INSTANCES": str(args.deploys + 10)}
        self.stack = cleanup.enter_context(
            production_stack(
                work / "data",
                database_url=self.db,
                broker_url=broker,
                ssh_key=servers[0].client_key,
                registry=REGISTRY,
                env=quota,
            )
        )
        self.operator = cleanup.enter_context(ApiClient(self.stack.base_url, self.stack.operator_token))
        self.server_ids += [add_server(self.operator, s, cpu=16) for s in servers]
        self.tenant = cleanup.enter_context(new_tenant(self.operator, self.stack.base_url, "bench")[1])

    def request(self) -> str:
        name, parameters = f"b{len(self.instance_ids)}", {"title": "B"}
        instance_id: str = request_instance(
            self.tenant, template="homepage", name=name, parameters=parameters
        )["id"]
        self.instance_ids.append(instance_id)
        return instance_id

    def approve(self, instance_id: str, server_id: str) -> str:
        return approve(self.operator, instance_id, server_id)

    def deploy_one(self, server_id: str) -> tuple[float, str]:
        instance_id = self.request()
        started = time.monotonic()
        job_id = self.approve(instance_id, server_id)
        succeeded(self.operator, job_id)
        return time.monotonic() - started, job_id

    def deploy_many(self, count: int) -> tuple[float, list[str]]:
        requested = [self.request() for _ in range(count)]
        started = time.monotonic()
        jobs = [self.approve(i, self.server_ids[n % 2]) for n, i in enumerate(requested)]
        # One thread per job, each polling its own job, as a client watching them would.
        with ThreadPoolExecutor(max_workers=count) as pool:
            list(pool.map(lambda job_id: succeeded(self.operator, job_id), jobs))
        return time.monotonic() - started, jobs

    def remove_all(self) -> float:
        started = time.monotonic()
        jobs = [self.tenant.call("DELETE", f"/api/v1/instances/{i}", expect=202) for i in self.instance_ids]
        for accepted in jobs:
            job_succeeded(self.operator, accepted)
        return time.monotonic() - started

    def job_spans(self, job_ids: list[str]) -> list[float]:
        """Each job's time from its claim to its end, from its row."""
        with transaction(self.db) as session:
            rows = session.scalars(select(Job).where(Job.id.in_(job_ids))).all()
            return [
                (r.finished_at - r.started_at).total_seconds() for r in rows if r.started_at and r.finished_at
            ]


@dataclass
class Figures:
    ones: list[float]  # single deploys, s
    one_work: float  # a single deploy's job, claimed until finished, s
    many_s: float
    spans: list[float]  # each concurrent job, claimed until finished, s
    steps: list[tuple[str, float]]
    load: tuple[str, str]
    removal_s: float = 0.0


def run(args: argparse.Namespace) -> Figures:
    with ExitStack() as cleanup:
        lab = Lab(cleanup, args)
        try:
            for server_id in lab.server_ids:  # starts each server's proxy; not counted
                lab.deploy_one(server_id)
            load_before = load_average()
            singles = [lab.deploy_one(lab.server_ids[n % 2]) for n in range(args.single)]
            many_s, many_jobs = lab.deploy_many(args.deploys)
            figures = Figures(
                ones=[s for s, _ in singles],
                one_work=statistics.median(lab.job_spans([j for _, j in singles])),
                many_s=many_s,
                spans=lab.job_spans(many_jobs),
                steps=step_times(lab.db, singles[-1][1]),
                load=(load_before, load_average()),
            )
            figures.removal_s = lab.remove_all()
            return figures
        except Exception:
            print(f"--- logs of the provisioner processes:\n{_tail(lab.stack.logs)}", file=sys.stderr)
            raise


def report(f: Figures, args: argparse.Namespace, code: str) -> str:
    one, spans = statistics.median(f.ones), f.spans
    linear = one * args.deploys / WORKERS
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    steps = ", ".join(f"{name} {s:.1f}" for name, s in f.steps[:8])
    return "\n".join(
        [
            BEGIN,
            f"## {args.deploys} concurrent deploys over 2 servers, a worker pool of {WORKERS}",
            "",
            f"Measured {when} by `benchmarks/concurrent_deploys.py --deploys {args.deploys} --single "
            f"{args.single}`: the production stack (API, worker `--concurrency {WORKERS}`, beat; PostgreSQL, "
            "Redis) deploying `homepage` over SSH to two sshd test servers on loopback (one Docker Engine "
            "under both), each server's proxy started by a warm-up deploy first.",
            "",
            f"- Machine: {os.cpu_count()} cores; load average {f.load[0]} before, {f.load[1]} after; {code}",
            "",
            "| | s |",
            "|---|---|",
            f"| one deploy, POST approve until succeeded (median of {args.single}: "
            f"{', '.join(f'{s:.1f}' for s in f.ones)}) | {one:.2f} |",
            f"| its job, claimed until finished | {f.one_work:.2f} |",
            f"| **{args.deploys} deploys approved at once, until the last succeeded** | {f.many_s:.2f} |",
            f"| linear scaling with {WORKERS} jobs at a time: {args.deploys} x one deploy / {WORKERS} | "
            f"{linear:.2f} |",
            f"| **share of linear scaling reached** (linear / measured) | {linear / f.many_s:.0%} |",
            "| each concurrent job, claimed until finished: median (min .. max) | "
            f"{statistics.median(spans):.2f} ({min(spans):.2f} .. {max(spans):.2f}) |",
            f"| removing all {args.deploys + args.single + 2} instances, one DELETE after the other, "
            f"until the last removal succeeded | {f.removal_s:.2f} |",
            "",
            "Where the last single deploy spent its time, longest steps first (s, from its events): "
            f"{steps}.",
            END,
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deploys", type=int, default=20)
    parser.add_argument("--single", type=int, default=3, help="deploys one after the other (default 3)")
    parser.add_argument("--redis-db", type=int, default=6, help="an empty Redis database (default 6)")
    parser.add_argument("--write", action="store_true", help="replace the section in results.md")
    args = parser.parse_args()
    code = code_version(REPO)
    try:
        figures = run(args)
    except BenchError as exc:
        print(f"concurrent_deploys: {exc}", file=sys.stderr)
        return 1
    section = report(figures, args, code)
    publish(BEGIN, END, section, write=args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
