"""Server time of every portal page with 1,000 instances in the database, against the JSON API's list.

    .venv/bin/python benchmarks/portal_pages.py [--instances 1000] [--runs 20] [--db postgresql|sqlite]

The application runs in-process (Starlette's TestClient): the time is the server's work for one request
(routing, session lookup, queries, template rendering), without a network. The reference is the JSON API's
own list of 100 instances (`GET /api/v1/instances?limit=100`, bearer token), the same rows the operator's
instance page renders as HTML. Writes its section of benchmarks/results.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.app import create_app
from provisioner.auth.actor import Role
from provisioner.auth.tokens import create_token
from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.instances.service import approve_instance
from provisioner.instances.states import InstanceState
from provisioner.models import Instance, Server, ServerMetric
from provisioner.servers.service import add_server
from tests.support import factories
from tests.support.db import fresh_postgres, migrated
from tests.support.factories import HOST_KEY
from tests.support.portal import make_user, sign_in
from tests.support.running import blog_with_backups

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.md"
BEGIN, END = "<!-- portal-pages:begin -->", "<!-- portal-pages:end -->"
TARGET_MS = 200
TENANTS = 100


class NoBroker:
    def send(self, session: object, job_id: str) -> None:
        """Jobs stay queued: only the pages are measured."""


def seed(db_url: str, settings: Settings, count: int) -> dict[str, str]:
    """``count`` homepage instances over 100 associations and 5 servers; 70 % approved and running;
    and the first association's WordPress with backups, for the backup pages."""
    with session_factory(db_url)() as session:
        tenants = [factories.tenant(session, f"verein-{n:03d}") for n in range(TENANTS)]
        for n in range(5):
            add_server(
                session,
                actor=factories.OPERATOR,
                name=f"s{n}",
                address="192.0.2.10",
                port=22,
                user="root",
                cpu=count,
                memory_mb=64 * count,
                disk_gb=count,
                host_key=HOST_KEY,
            )
        session.commit()
        rows = [factories.homepage(session, tenants[n % TENANTS], f"site-{n:04d}") for n in range(count)]
        session.commit()
        job_id = ""
        for n, row in enumerate(rows):
            if n % 10 < 7:
                job_id = approve_instance(
                    session,
                    actor=factories.OPERATOR,
                    catalog=factories.CATALOG,
                    instance_id=row.id,
                    server_id=None,
                    settings=settings,
                ).id
                row.state = InstanceState.RUNNING.value
                row.health = "healthy"
        session.commit()
        measured_by_servers(session, rows)
        first = session.get_one(Instance, rows[0].id)
        server = session.scalars(select(Server).order_by(Server.name)).first()
        assert server is not None  # noqa: S101 - made above
        tenants[0].quota_instances = count // TENANTS + 10  # its homepages and the blog
        blog, backup = blog_with_backups(session, settings, tenants[0], server)
        result = {"tenant": tenants[0].id, "instance": first.id, "job": job_id}
        result |= {"blog": blog, "backup": backup}
    make_user(db_url, email="op@lab.example", role="operator", tenant_id=None)
    make_user(db_url, email="admin@verein-000.org", role="admin", tenant_id=result["tenant"])
    return result


def measured_by_servers(session: Session, rows: list[Instance]) -> None:
    """The running instances placed round the servers, each server with an hour of collections every
    5 minutes that measured them all: the footprint pages read the newest recent one of each server."""
    servers = list(session.scalars(select(Server).order_by(Server.name)))
    running = [row for row in rows if row.state == InstanceState.RUNNING.value]
    for n, row in enumerate(running):
        row.server_id = servers[n % len(servers)].id
    now = datetime.now(UTC)
    for server in servers:
        figures = {
            row.id: {"cpu_percent": 1.5, "memory_mb": 48.0, "disk_mb": 120.0}
            for row in running
            if row.server_id == server.id
        }
        for minutes in range(0, 60, 5):
            session.add(
                ServerMetric(
                    server_id=server.id,
                    collected_at=now - timedelta(minutes=minutes),
                    reachable=True,
                    instances=figures,
                )
            )
    session.commit()


def time_pages(
    client: TestClient, paths: list[str], runs: int, headers: dict[str, str] | None = None
) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {}
    for path in paths:
        client.get(path, headers=headers)  # warm-up: template compilation, first queries
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(path, headers=headers)
            samples.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"{path} answered {response.status_code}")
        timings[path] = samples
    return timings


def measure(
    db_url: str, data_dir: Path, count: int, runs: int
) -> tuple[dict[str, list[float]], dict[str, str]]:
    settings = Settings(data_dir=data_dir, database_url=db_url, broker_url="memory://")
    ids = seed(db_url, settings, count)
    app = create_app(settings)
    app.state.dispatcher = NoBroker()
    with session_factory(db_url)() as session:
        _, token = create_token(session, name="bench", role=Role.OPERATOR, tenant_id=None)
        session.commit()
    timings: dict[str, list[float]] = {}
    with TestClient(app) as anonymous:
        timings |= time_pages(anonymous, ["/", "/login"], runs)
        timings |= time_pages(
            anonymous, ["/api/v1/instances?limit=100"], runs, {"Authorization": f"Bearer {token}"}
        )
    with TestClient(app) as admin:
        sign_in(admin, "admin@verein-000.org")
        timings |= time_pages(
            admin,
            [
                "/services",
                "/catalog",
                "/catalog/homepage/request",
                "/catalog/wordpress/request",
                f"/services/{ids['instance']}",
                f"/services/{ids['instance']}/remove",
                f"/services/{ids['blog']}",
                f"/services/{ids['blog']}/backup-schedule",
                f"/services/{ids['blog']}/backups/{ids['backup']}/restore",
                "/team",
            ],
            runs,
        )
    with TestClient(app) as operator:
        sign_in(operator, "op@lab.example")
        timings |= time_pages(
            operator,
            [
                "/operator/requests",
                "/operator/instances",
                "/operator/instances?state=running&server=",
                "/operator/servers",
                "/operator/jobs",
                "/operator/tenants",
                "/operator/audit",
                "/operator/schedules",
                "/operator/alerts",
                f"/jobs/{ids['job']}",
                f"/team?tenant={ids['tenant']}",
            ],
            runs,
        )
    return timings, ids


def _commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()


def _named(path: str, ids: dict[str, str]) -> str:
    """The path with the seeded ids replaced by what they stand for: ``/services/{blog}``."""
    for name, value in ids.items():
        path = path.replace(value, "{" + name + "}")
    return path


def write(timings: dict[str, list[float]], ids: dict[str, str], args: argparse.Namespace) -> str:
    reference = statistics.median(timings["/api/v1/instances?limit=100"])
    lines = [
        BEGIN,
        "## Portal pages: server time with 1,000 instances",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `benchmarks/portal_pages.py "
        f"--instances {args.instances} --runs {args.runs} --db {args.db}`: {args.instances} homepage "
        f"instances over {TENANTS} associations and 5 servers, 70 % approved (each with its deploy job) "
        "and marked running on the servers, each server with an hour of collections that measured its "
        "instances; in-process requests (no network), one warm-up request per page not counted.",
        "",
        f"- Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.2f} at the end; shared with other test sessions, so the figures are noisy",
        f"- Code: commit {_commit()}, Python {platform.python_version()}",
        "",
        f"Median and 95th percentile of {args.runs} requests, ms; target < {TARGET_MS} ms per page.",
        "",
        "| page | median | p95 | vs. JSON list of 100 |",
        "|---|---|---|---|",
    ]
    for path, samples in timings.items():
        median = statistics.median(samples)
        p95 = statistics.quantiles(samples, n=20)[18] if len(samples) >= 2 else median
        shown = _named(path, ids)
        lines.append(f"| `{shown}` | {median:.1f} | {p95:.1f} | {median / reference:.1f} x |")
    slowest = max(timings, key=lambda p: statistics.median(timings[p]))
    lines += [
        "",
        "### Interpretation",
        "",
        f"The slowest page is `{_named(slowest, ids)}` at {statistics.median(timings[slowest]):.1f} ms "
        "(median). Pages that list instances read one page of at most 100 (the operator's list) or one "
        "association's own (its services); the approval queue reads every waiting request, the server "
        "page sums each server's reservations from its instances. The measured footprints (a service, "
        "its association's services, the associations page) come from one query for the servers' "
        "collections of the last three metrics intervals. A signed-in page also pays the session "
        "lookup and its last-seen update (one commit) on every request.",
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.db == "postgresql":
            with fresh_postgres() as url:
                from provisioner.migrate import upgrade  # noqa: PLC0415 - only this branch needs it

                upgrade(url)
                timings, ids = measure(url, Path(tmp), args.instances, args.runs)
        else:
            with migrated("sqlite", Path(tmp)) as url:
                timings, ids = measure(url, Path(tmp), args.instances, args.runs)
    section = write(timings, ids, args)
    print(section)
    text = RESULTS.read_text()
    if BEGIN in text:
        text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(text)
    sys.exit(0)


if __name__ == "__main__":
    main()
