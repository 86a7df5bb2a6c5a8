"""A health sweep over many instances: the provisioner's sweep against plain tools asking the same URLs.

Stub health endpoints: asyncio HTTP servers in a process of their own, on a few loopback ports, each
answering any hostname. The instances are rows in a temporary PostgreSQL database (one association,
one server per port, TLS off so the stub needs no certificates). Each variant runs in a child process
of its own, so its peak RSS (``ru_maxrss``) is its alone. See README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `tests.support` when run as a script

import aiohttp
import httpx
import uvloop
from sqlalchemy import insert

from benchmarks.deploy_support import code_version, temp_database
from provisioner.catalog.loader import Catalog
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.health import sweep as sweep_module
from provisioner.health.fetch import BadAnswer, fetch
from provisioner.health.sweep import sweep
from provisioner.ids import new_id
from provisioner.migrate import upgrade
from provisioner.models import Instance, Server, Tenant
from provisioner.timeutil import utcnow
from tests.support.stack import free_port

REPO = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- health-sweep:begin -->", "<!-- health-sweep:end -->"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


# --- the stub endpoints (a child process) ---------------------------------------------------------
async def _serve(ports: list[int]) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if not head:
                    break
                writer.write(RESPONSE)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    servers = [await asyncio.start_server(answer, "127.0.0.1", port, backlog=4096) for port in ports]
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


# --- the variants (each a child process) -----------------------------------------------------------
def _variant_sweep(args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings(
        database_url=args.database_url, health_concurrency=args.concurrency, health_timeout_seconds=10
    )
    catalog = Catalog.from_dir(settings.resolved_templates_dir)
    times, checked, changed = [], [], []
    for _ in range(args.rounds):
        started = time.perf_counter()
        report = sweep(settings, catalog)
        times.append(time.perf_counter() - started)
        checked.append(report.checked)
        changed.append(len(report.changed))
    return {"times": times, "checked": checked, "changed": changed}


def _variant_sweep_asyncio(args: argparse.Namespace) -> dict[str, Any]:
    """The sweep on asyncio's own event loop, as before it ran on uvloop's."""
    sweep_module.LOOP_FACTORY = None
    return _variant_sweep(args)


def _variant_fetch(args: argparse.Namespace) -> dict[str, Any]:
    """The sweep's own requests (provisioner.health.fetch on uvloop), without the database."""
    targets = json.loads(Path(args.targets).read_text())

    async def once() -> int:
        semaphore = asyncio.Semaphore(args.concurrency)

        async def one(url: str, host: str) -> bool:
            async with semaphore:
                try:
                    answer = await fetch(url, host=host, server_hostname=None, context=None, timeout=10)
                except (OSError, TimeoutError, BadAnswer):
                    return False
                return answer.status == 200

        return sum(await asyncio.gather(*(one(u, h) for u, h in targets)))

    times, ok = [], []
    for _ in range(args.rounds):
        started = time.perf_counter()
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            ok.append(runner.run(once()))
        times.append(time.perf_counter() - started)
    return {"times": times, "checked": ok}


def _variant_aiohttp_uvloop(args: argparse.Namespace) -> dict[str, Any]:
    return _variant_aiohttp(args, loop_factory=uvloop.new_event_loop)


def _variant_aiohttp(
    args: argparse.Namespace, loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
) -> dict[str, Any]:
    targets = json.loads(Path(args.targets).read_text())

    async def once() -> int:
        semaphore = asyncio.Semaphore(args.concurrency)
        connector = aiohttp.TCPConnector(limit=args.concurrency, force_close=True)
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:

            async def one(url: str, host: str) -> bool:
                async with semaphore:
                    try:
                        async with client.get(url, headers={"Host": host}) as response:
                            await response.read()
                            return response.status == 200
                    except (aiohttp.ClientError, TimeoutError):
                        return False

            return sum(await asyncio.gather(*(one(u, h) for u, h in targets)))

    times, ok = [], []
    for _ in range(args.rounds):
        started = time.perf_counter()
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            ok.append(runner.run(once()))
        times.append(time.perf_counter() - started)
    return {"times": times, "checked": ok}


def _variant_httpx(args: argparse.Namespace, *, keepalive: int = 0) -> dict[str, Any]:
    targets = json.loads(Path(args.targets).read_text())

    async def once() -> int:
        semaphore = asyncio.Semaphore(args.concurrency)
        limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=keepalive)
        async with httpx.AsyncClient(timeout=10, limits=limits) as client:

            async def one(url: str, host: str) -> bool:
                async with semaphore:
                    try:
                        response = await client.get(url, headers={"Host": host})
                    except httpx.HTTPError:
                        return False  # counted: the sweep too takes a failed request for an answer
                    return response.status_code == 200

            return sum(await asyncio.gather(*(one(u, h) for u, h in targets)))

    times, ok = [], []
    for _ in range(args.httpx_rounds):  # the former client, slow: fewer rounds
        started = time.perf_counter()
        ok.append(asyncio.run(once()))
        times.append(time.perf_counter() - started)
    return {"times": times, "checked": ok}


def _variant_curl_parallel(args: argparse.Namespace) -> dict[str, Any]:
    targets = json.loads(Path(args.targets).read_text())
    config = Path(args.targets).with_suffix(".curl")
    config.write_text("".join(f'url = "{u}"\noutput = "/dev/null"\n' for u, _ in targets))
    times, peak = [], 0
    for _ in range(args.rounds):
        started = time.perf_counter()
        # GNU time reports curl's own peak RSS (ru_maxrss of a forked child counts the parent's pages).
        timed = subprocess.run(
            [
                "/usr/bin/time",
                "-f",
                "%M",
                "curl",
                "-s",
                "--parallel",
                "--parallel-max",
                str(args.concurrency),
                "-K",
                str(config),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        peak = max(peak, int(timed.stderr.strip().splitlines()[-1]))
        times.append(time.perf_counter() - started)
    return {"times": times, "checked": [len(targets)] * args.rounds, "curl_maxrss_kib": peak}


def _variant_curl_loop(args: argparse.Namespace) -> dict[str, Any]:
    targets = json.loads(Path(args.targets).read_text())[: args.sample]
    started = time.perf_counter()
    for url, host in targets:
        subprocess.run(["curl", "-s", "-o", "/dev/null", "-H", f"Host: {host}", url], check=True)
    per_request = (time.perf_counter() - started) / len(targets)
    return {"times": [per_request * args.instances], "checked": [len(targets)], "per_request": per_request}


VARIANTS = {
    "sweep": _variant_sweep,
    "fetch": _variant_fetch,
    "aiohttp-uvloop": _variant_aiohttp_uvloop,
    "curl-parallel": _variant_curl_parallel,
    "curl-loop": _variant_curl_loop,
}
# Measured before and kept for a comparison (--all): the sweep on asyncio's own loop, plain aiohttp
# on asyncio's loop, plain httpx.
SLOW_VARIANTS = {
    "sweep-asyncio": _variant_sweep_asyncio,
    "aiohttp": _variant_aiohttp,
    "httpx": _variant_httpx,
}


def _child(args: argparse.Namespace) -> None:
    result = (VARIANTS | SLOW_VARIANTS)[args.child](args)
    result["maxrss_kib"] = result.pop("curl_maxrss_kib", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    print(json.dumps(result), flush=True)


# --- the parent --------------------------------------------------------------------------------------
def _populate(database_url: str, ports: list[int], instances: int) -> list[tuple[str, str]]:
    upgrade(database_url)
    now = utcnow()
    targets = []
    with transaction(database_url) as session:
        tenant = Tenant(slug="bench", name="Bench e.V.", contact_email="bench@example.org")
        session.add(tenant)
        servers = []
        for n, port in enumerate(ports):
            server = Server(
                name=f"bench{n}",
                address="127.0.0.1",
                public_address=f"127.0.0.1:{port}",
                cpu=64,
                memory_mb=262144,
                disk_gb=4096,
                tls_mode="off",
                connection="ssh",
            )
            session.add(server)
            servers.append(server)
        session.flush()
        rows = []
        for n in range(instances):
            server = servers[n % len(servers)]
            sub = f"site{n}"
            rows.append(
                {
                    "id": new_id("ins"),
                    "tenant_id": tenant.id,
                    "template": "homepage",
                    "version": "1.0",
                    "name": sub,
                    "parameters": {},
                    "state": "running",
                    "health": "unknown",
                    "server_id": server.id,
                    "url": f"http://{sub}.bench.test/",
                    "subdomain": sub,
                    "domain": "bench.test",
                    "created_at": now,
                    "updated_at": now,
                }
            )
            targets.append((f"http://{server.public_address}/healthz", f"{sub}.bench.test"))
        session.execute(insert(Instance), rows)
    return targets


def _run_child(variant: str, args: argparse.Namespace, database_url: str, targets: Path) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--child",
        variant,
        "--database-url",
        database_url,
        "--targets",
        str(targets),
        "--rounds",
        str(args.rounds),
        "--concurrency",
        str(args.concurrency),
        "--instances",
        str(args.instances),
        "--sample",
        str(args.sample),
        "--httpx-rounds",
        str(args.httpx_rounds),
    ]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{variant} failed:\n{done.stderr[-3000:]}")
    output = done.stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def _figure(times: list[float]) -> str:
    if len(times) == 1:
        return f"{times[0]:.2f}"
    return f"{statistics.median(times):.2f} ({min(times):.2f} .. {max(times):.2f})"


def _report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> str:
    sweep_result = results["sweep"]
    first, later = sweep_result["times"][0], sweep_result["times"][1:]
    rows = [
        ("provisioner sweep, first round (5,000 changes unknown → healthy written, with events)", [first]),
        ("provisioner sweep, later rounds (no changes)", later),
        (
            "the sweep's own requests alone (asyncio streams on uvloop), no database",
            results["fetch"]["times"],
        ),
        (
            "plain aiohttp loop on uvloop (the sweep's former client: one session, no keep-alive), "
            "no database",
            results["aiohttp-uvloop"]["times"],
        ),
        (
            f"curl --parallel --parallel-max {args.concurrency}, one curl process",
            results["curl-parallel"]["times"],
        ),
        (
            f"curl once per instance in a loop (measured on {args.sample}, scaled to {args.instances})",
            results["curl-loop"]["times"],
        ),
    ]
    if "sweep-asyncio" in results:
        rows += [
            ("the sweep on asyncio's own event loop, later rounds", results["sweep-asyncio"]["times"][1:]),
            ("plain aiohttp loop on asyncio's own event loop", results["aiohttp"]["times"]),
            ("plain httpx.AsyncClient loop, no keep-alive", results["httpx"]["times"]),
        ]
    rss = {
        "provisioner sweep": results["sweep"]["maxrss_kib"],
        "the sweep's own requests alone": results["fetch"]["maxrss_kib"],
        "plain aiohttp loop": results["aiohttp-uvloop"]["maxrss_kib"],
        "curl --parallel (GNU time)": results["curl-parallel"]["maxrss_kib"],
    }
    load = os.getloadavg()[0]
    lines = [
        BEGIN,
        "## Health sweep over 5,000 instances",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `benchmarks/health_sweep.py "
        f"--instances {args.instances} --rounds {args.rounds} --concurrency {args.concurrency}`; "
        f"{args.instances} running instances in PostgreSQL on {args.ports} stub servers "
        "(asyncio, one process, plain HTTP, any hostname), code at "
        f"{code_version(REPO)}; {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"aiohttp {aiohttp.__version__}, httpx {httpx.__version__}; load average {args.load_before:.2f} "
        f"at the start, {load:.2f} at the end (other work shared the machine).",
        "",
        "| what | seconds per sweep: median (min .. max) |",
        "|---|---|",
        *[f"| {name} | {_figure(times)} |" for name, times in rows],
        "",
        "| peak RSS of the whole process (ru_maxrss) | MiB |",
        "|---|---|",
        *[f"| {name} | {kib / 1024:.0f} |" for name, kib in rss.items()],
        "",
        "### Interpretation",
        "",
        "<<interpretation>>",
        END,
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--ports", type=int, default=4)
    parser.add_argument("--sample", type=int, default=50)
    parser.add_argument("--httpx-rounds", type=int, default=1)
    parser.add_argument("--write", action="store_true", help="replace this benchmark's section of results.md")
    parser.add_argument("--all", action="store_true", help="also the slower earlier clients")
    parser.add_argument("--child", choices=sorted(VARIANTS | SLOW_VARIANTS))
    parser.add_argument("--serve", type=str, help=argparse.SUPPRESS)
    parser.add_argument("--database-url")
    parser.add_argument("--targets")
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve([int(p) for p in args.serve.split(",")]))
        return
    if args.child:
        _child(args)
        return
    args.load_before = os.getloadavg()[0]
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the stub keeps many connections open
    ports = [free_port() for _ in range(args.ports)]
    stubs = subprocess.Popen(
        [sys.executable, __file__, "--serve", ",".join(map(str, ports))], stdout=subprocess.PIPE, text=True
    )
    try:
        assert stubs.stdout is not None  # noqa: S101 - asked for above
        stubs.stdout.readline()
        with temp_database() as database_url, tempfile.TemporaryDirectory() as folder:
            targets_file = Path(folder) / "targets.json"
            targets_file.write_text(json.dumps(_populate(database_url, ports, args.instances)))
            variants = [*VARIANTS, *(SLOW_VARIANTS if args.all else ())]
            results = {v: _run_child(v, args, database_url, targets_file) for v in variants}
    finally:
        stubs.terminate()
        stubs.wait()
    for name, result in results.items():
        print(name, json.dumps(result))
    assert all(c == args.instances for c in results["sweep"]["checked"]), results["sweep"]["checked"]  # noqa: S101
    section = _report(args, results)
    print(section)
    if args.write:
        path = Path(__file__).parent / "results.md"
        text = path.read_text()
        if BEGIN in text:
            text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) + 1 :]
        else:
            text = text.rstrip() + "\n\n" + section
        path.write_text(text)


if __name__ == "__main__":
    main()
