"""The API over real HTTP under a steady load of reads, with live job streams open.

uvicorn serves the API with ``--workers`` processes on a fresh PostgreSQL database holding ``--instances``
homepage instances (100 associations, 5 servers, 70 % approved and running; the seed of
portal_pages.py). ``--streams`` members follow a job's events live the whole time; meanwhile an
open-loop client sends ``--rate`` requests a second for ``--seconds`` seconds, whatever the answers'
pace (a slow answer does not slow the next request down), mixing the reads people make: an operator's
page of 100 instances, one instance, one job, and an association's own list. Each request's time runs
from when it was due, so queueing in the client counts too. Everything is asyncio and aiohttp in one
process, at most ``--in-flight`` requests at once.

    .venv/bin/python benchmarks/api_load.py [--instances 5000] [--rate 200] [--seconds 30] [--write]

Needs the test bed's PostgreSQL on 127.0.0.1; the database and the API processes go at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import typing
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `tests.support` when run as a script

import aiohttp
import httpx
from sqlalchemy import insert, select

from benchmarks.deploy_support import code_version
from benchmarks.live_streams import serve_api
from benchmarks.portal_pages import seed
from benchmarks.results_file import publish
from provisioner.auth.actor import Role
from provisioner.auth.tokens import create_token
from provisioner.config import Settings, get_settings
from provisioner.db import session_factory
from provisioner.ids import new_id
from provisioner.models import Instance, InstanceSecret, Job
from tests.support.db import migrated
from tests.support.streams import STREAM, member_tokens

REPO = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- api-load:begin -->", "<!-- api-load:end -->"


SEEDED = 500  # instances made through the services; the rest are copies of their rows


def seed_many(db_url: str, settings: Settings, count: int) -> dict[str, str]:
    """``count`` instances: the first ``SEEDED`` made as portal_pages.py makes them (requested, 70 %
    approved with their deploy job, running), the rest copies of those rows, their secrets and jobs
    under new ids and names, since placing thousands one by one takes the seed quadratic time."""
    ids = seed(db_url, settings, min(count, SEEDED))
    instances, secrets, jobs = Instance.__table__, InstanceSecret.__table__, Job.__table__
    with session_factory(db_url)() as session:
        base = [
            dict(r)
            for r in session.execute(select(instances).where(instances.c.shared.is_(False))).mappings()
        ]
        base_secrets = [dict(r) for r in session.execute(select(secrets)).mappings()]
        base_jobs = [dict(r) for r in session.execute(select(jobs)).mappings()]
        made = len(base)
        for copy in range(1, count // made + 1):
            batch = base[: count - made] if made + len(base) > count else base
            if not batch:
                break
            new_ids = {row["id"]: new_id("ins") for row in batch}
            session.execute(insert(instances), [
                row | {"id": new_ids[row["id"]], "name": f"{row['name']}-{copy}", "port": None,
                       "subdomain": row["subdomain"] and f"{row['subdomain']}-{copy}",
                       "url": row["url"] and row["url"].replace("://", f"://c{copy}-", 1),
                       "lock_job_id": None}
                for row in batch
            ])  # fmt: skip
            copied_secrets = [r for r in base_secrets if r["instance_id"] in new_ids]
            if copied_secrets:
                session.execute(insert(secrets), [
                    {k: v for k, v in r.items() if k != "id"} | {"instance_id": new_ids[r["instance_id"]]}
                    for r in copied_secrets
                ])  # fmt: skip
            copied_jobs = [r for r in base_jobs if r["instance_id"] in new_ids]
            if copied_jobs:
                session.execute(insert(jobs), [
                    r | {"id": new_id("job"), "instance_id": new_ids[r["instance_id"]]} for r in copied_jobs
                ])  # fmt: skip
            made += len(batch)
        session.commit()
    return ids


def bearer(db_url: str, role: Role, tenant_id: str | None) -> dict[str, str]:
    with session_factory(db_url)() as session:
        _, plain = create_token(session, name="benchmark", role=role, tenant_id=tenant_id)
        session.commit()
    return {"Authorization": f"Bearer {plain}"}


class Load:
    def __init__(self, url: str, reads: list[tuple[str, dict[str, str]]], in_flight: int) -> None:
        self.url, self.reads = url, reads
        self.gate = asyncio.Semaphore(in_flight)
        self.times: list[float] = []
        self.failures: dict[str, int] = {}

    async def one(
        self, session: aiohttp.ClientSession, due: float, path: str, headers: dict[str, str]
    ) -> None:
        async with self.gate:
            try:
                async with session.get(self.url + path, headers=headers) as response:
                    await response.read()
                    ok = response.status == 200
                    why = f"{response.status}"
            except aiohttp.ClientError as exc:
                ok, why = False, type(exc).__name__
        self.times.append((time.perf_counter() - due) * 1000)
        if not ok:
            self.failures[why] = self.failures.get(why, 0) + 1

    async def run(self, rate: float, seconds: float) -> float:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            started, tasks = time.perf_counter(), []
            for n in range(int(rate * seconds)):
                due = started + n / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                path, headers = random.choice(self.reads)  # noqa: S311 - a load mix, not a secret
                tasks.append(asyncio.create_task(self.one(session, due, path, headers)))
            await asyncio.gather(*tasks)
            return time.perf_counter() - started


async def keep_streams(url: str, members: list[dict[str, str]], opened: asyncio.Future[tuple[int, float]],
                       release: asyncio.Event) -> None:  # fmt: skip
    """One stream per member, open until ``release`` is set; ``opened`` gets how many opened, and how fast."""
    started = time.perf_counter()
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as session:
        responses = await asyncio.gather(*(session.get(url, headers={**h, **STREAM}) for h in members))
        opened.set_result((sum(r.status == 200 for r in responses), time.perf_counter() - started))
        await release.wait()
        for response in responses:
            response.close()


def percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def measure(url: str, reads: list[tuple[str, dict[str, str]]], members: list[dict[str, str]],
                  events: str, args: argparse.Namespace) -> dict[str, object]:  # fmt: skip
    figures: dict[str, object] = {}
    for label, streaming in (("none", False), ("streams", True)):
        opened: asyncio.Future[tuple[int, float]] = asyncio.get_running_loop().create_future()
        release = asyncio.Event()
        if streaming:
            keeper = asyncio.create_task(keep_streams(events, members, opened, release))
            figures["opened"] = await opened
            await asyncio.sleep(2)  # every stream has made its first read and waits
        load = Load(url, reads, args.in_flight)
        elapsed = await load.run(args.rate, args.seconds)
        release.set()
        if streaming:
            await keeper
        ordered = sorted(load.times)
        figures[label] = {
            "p50": statistics.median(ordered), "p99": percentile(ordered, 0.99), "max": ordered[-1],
            "count": len(ordered), "rate": len(ordered) / elapsed, "failures": dict(load.failures),
        }  # fmt: skip
    return figures


def run(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="api-load-") as tmp, migrated("postgresql", Path(tmp)) as db_url:
        # 5,000 instances over 100 associations: 50 each, beyond the default quota of 10.
        os.environ["PROVISIONER_QUOTA_INSTANCES"] = str(args.instances)
        get_settings.cache_clear()
        settings = Settings(data_dir=Path(tmp), database_url=db_url)
        print(f"seeding {args.instances} instances", file=sys.stderr)
        ids = seed_many(db_url, settings, args.instances)
        with session_factory(db_url)() as session:
            instances = list(session.scalars(select(Instance.id).limit(2000)))
            # A job nobody works on (there is no worker): its streams stay open until they are closed.
            stream_job = ids["job"]
            stream_tenant = session.get_one(Job, stream_job).instance.tenant_id
        members = [headers for _, headers in member_tokens(db_url, stream_tenant, args.streams)]
        operator = bearer(db_url, Role.OPERATOR, None)
        member = bearer(db_url, Role.MEMBER, ids["tenant"])
        reads = [("/api/v1/instances?limit=100", operator), (f"/api/v1/jobs/{ids['job']}", operator),
                 ("/api/v1/instances", member)]  # fmt: skip
        reads += [(f"/api/v1/instances/{i}", operator) for i in random.sample(instances, 3)]
        server, url = serve_api(db_url, Path(tmp), args.workers)
        try:
            for path, headers in reads:  # each answers 200 before anything is timed
                answer = httpx.get(url + path, headers=headers, timeout=60)
                if answer.status_code != 200:
                    raise RuntimeError(f"{path} answered {answer.status_code}: {answer.text[:200]}")
            events = f"{url}/api/v1/jobs/{stream_job}/events"
            return asyncio.run(measure(url, reads, members, events, args))
        finally:
            server.terminate()
            server.wait(timeout=60)


def report(f: dict[str, object], args: argparse.Namespace, load: tuple[float, float], code: str) -> str:
    def row(label: str, key: str) -> str:
        r: dict[str, object] = f[key]  # type: ignore[assignment]
        failed = sum(r["failures"].values()) if r["failures"] else 0  # type: ignore[attr-defined]
        return (
            f"| {label} | {r['rate']:.0f} | {r['p50']:.1f} | **{r['p99']:.1f}** | {r['max']:.1f} | "
            f"{r['count']} | {failed} {r['failures'] or ''} |"
        )

    opened, opening = typing.cast(tuple[int, float], f["opened"])
    return "\n".join(
        [
            BEGIN,
            f"## The API over HTTP: {args.instances} instances, {args.rate} requests a second",
            "",
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `benchmarks/api_load.py --instances "
            f"{args.instances} --rate {args.rate} --seconds {args.seconds} --workers {args.workers} "
            f"--streams {args.streams}`: uvicorn with {args.workers} processes on PostgreSQL, the client "
            f"(asyncio, aiohttp, open loop, at most {args.in_flight} requests at once) in one process on "
            "the same machine. The reads, in equal shares: an operator's page of 100 instances, one of three "
            "instances, one job; an association's own list. Times run from when a request was due.",
            "",
            f"- Machine: {os.cpu_count()} cores; load average {load[0]:.2f} before, {load[1]:.2f} after; "
            f"{code}",
            "",
            "| | requests/s reached | p50, ms | p99, ms | slowest, ms | requests | failed |",
            "|---|---|---|---|---|---|---|",
            row("no stream open", "none"),
            row(f"{opened} live job streams open (opened in {opening:.1f} s)", "streams"),
            END,
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=4, help="uvicorn processes (default 4)")
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--in-flight", type=int, default=400)
    parser.add_argument("--write", action="store_true", help="replace the section in results.md")
    args = parser.parse_args()
    code, before = code_version(REPO), os.getloadavg()[0]
    figures = run(args)
    section = report(figures, args, (before, os.getloadavg()[0]), code)
    publish(BEGIN, END, section, write=args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
