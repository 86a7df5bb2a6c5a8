"""Server time of the pages with charts when a week of measurements is kept: a service's page (its health and
footprint) and the servers page (each server's memory and disk).

    .venv/bin/python benchmarks/chart_pages.py [--servers 5] [--per-server 50] [--runs 20] [--write]

Each server gets a week of collections every five minutes (2,016) and each of its instances a footprint
row per collection, as the metrics collection keeps them; the application runs in-process on SQLite
(Starlette's TestClient, no network). With ``--write`` the figures replace their section of results.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import insert, update

from api.app import create_app
from api.portal.i18n import Texts
from api.portal.measured_charts import server_charts, service_charts
from benchmarks.portal_pages import NoBroker, time_pages
from benchmarks.results_file import publish
from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.models import HealthEvent, Instance, InstanceMetric, Server, ServerMetric
from provisioner.timeutil import utcnow
from tests.support import factories
from tests.support.db import migrated
from tests.support.portal import make_user, sign_in

BEGIN, END = "<!-- chart-pages:begin -->", "<!-- chart-pages:end -->"
COLLECTIONS = 7 * 24 * 12  # a week, every five minutes


def seed(db_url: str, servers: int, per_server: int) -> tuple[str, str]:
    """Returns the first instance's id and its association's id."""
    now = datetime.now(UTC)
    with session_factory(db_url)() as session:
        tenant = factories.tenant(session, "verein-a")
        tenant.quota_instances = servers * per_server
        instances: list[tuple[str, str]] = []
        for s in range(servers):
            server = factories.server(session, f"s{s}", memory_mb=65536)
            for n in range(per_server):
                row = factories.homepage(session, tenant, f"site-{s}-{n}")
                instances.append((row.id, server.id))
        session.flush()
        for instance_id, server_id in instances:
            session.execute(
                update(Instance)
                .where(Instance.id == instance_id)
                .values(state="running", server_id=server_id, health="healthy", health_checked_at=now)
            )
        session.add(HealthEvent(instance_id=instances[0][0], previous="unknown", current="healthy"))
        for c in range(COLLECTIONS):
            at = now - timedelta(minutes=5 * c)
            session.execute(
                insert(ServerMetric),
                [
                    {"server_id": f"{sid}", "collected_at": at, "reachable": True, "instances": {}}
                    | {"memory_total_mb": 65536, "memory_available_mb": 30000 + c}
                    | {"disk_total_mb": 409600, "disk_used_mb": 100000 + c}
                    for sid in {server_id for _, server_id in instances}
                ],
            )
            session.execute(
                insert(InstanceMetric),
                [
                    {"instance_id": iid, "server_id": sid, "collected_at": at, "cpu_percent": 1.5}
                    | {"memory_mb": 48.0 + c % 7, "disk_mb": 120.0}
                    for iid, sid in instances
                ],
            )
        session.commit()
        return instances[0][0], tenant.id


def charts_alone(db_url: str, instance_id: str, runs: int) -> dict[str, list[float]]:
    """The charts' own share: reading the figures and drawing the SVG, without the rest of the page."""
    texts = Texts("de")
    with session_factory(db_url)() as session:
        instance = session.get_one(Instance, instance_id)
        servers = list(session.query(Server))
        work: dict[str, Callable[[], object]] = {
            "charts of a service": lambda: service_charts(session, texts, instance=instance, now=utcnow()),
            "charts of the servers": lambda: server_charts(session, texts, servers=servers, now=utcnow()),
        }
        found: dict[str, list[float]] = {}
        for name, run in work.items():
            run()
            samples = []
            for _ in range(runs):
                started = time.perf_counter()
                run()
                samples.append((time.perf_counter() - started) * 1000)
            found[name] = samples
        return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--servers", type=int, default=5)
    parser.add_argument("--per-server", type=int, default=50)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, migrated("sqlite", Path(tmp)) as db_url:
        instance_id, tenant_id = seed(db_url, args.servers, args.per_server)
        make_user(db_url, email="op@lab.example", role="operator", tenant_id=None)
        make_user(db_url, email="admin@verein-a.org", role="admin", tenant_id=tenant_id)
        app = create_app(Settings(data_dir=Path(tmp), database_url=db_url, broker_url="memory://"))
        app.state.dispatcher = NoBroker()
        timings = {}
        with TestClient(app) as admin:
            sign_in(admin, "admin@verein-a.org")
            timings |= time_pages(admin, [f"/services/{instance_id}"], args.runs)
        with TestClient(app) as operator:
            sign_in(operator, "op@lab.example")
            timings |= time_pages(operator, ["/operator/servers"], args.runs)
        timings |= charts_alone(db_url, instance_id, args.runs)
    rows = COLLECTIONS * args.servers * (args.per_server + 1)
    lines = [
        BEGIN,
        "## Pages with charts: server time with a week of measurements",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `benchmarks/chart_pages.py --servers "
        f"{args.servers} --per-server {args.per_server} --runs {args.runs}` on SQLite: {args.servers} "
        f"servers with {args.per_server} running services each, a week of collections every five minutes "
        f"({rows:,} rows of server and service figures); in-process requests, one warm-up not counted. "
        f"Machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the end (shared, so "
        f"noisy); Python {platform.python_version()}.",
        "",
        "| page, or the charts' own work | median ms | p95 ms |",
        "|---|---|---|",
    ]
    for path, samples in timings.items():
        shown = f"`{path.replace(instance_id, '{instance}')}`" if path.startswith("/") else path
        p95 = statistics.quantiles(samples, n=20)[18]
        lines.append(f"| {shown} | {statistics.median(samples):.1f} | {p95:.1f} |")
    lines += [
        "",
        "A service's page reads its own 2,016 footprint rows through the (instance, time) index and its "
        "health changes; the servers page reads each server's memory and disk columns of its 2,016 "
        "collections, never the collections' per-instance figures. Both draw 84 two-hour averages.",
        END,
    ]
    publish(BEGIN, END, "\n".join(lines), write=args.write)


if __name__ == "__main__":
    main()
