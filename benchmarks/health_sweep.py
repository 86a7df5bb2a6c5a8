"""A health sweep over many instances: the provisioner's sweep against plain tools asking the same URLs.

Stub health endpoints: asyncio HTTP servers on uvloop, one process per loopback port, each answering
any hostname. The instances are rows in a temporary PostgreSQL database (one association,
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
import pycurl
import uvloop
from sqlalchemy import delete, insert, update

from benchmarks.deploy_support import code_version, temp_database
from provisioner.db import transaction
from provisioner.health.multi import Answer, Ask, Trust, fetch_all
from provisioner.ids import new_id
from provisioner.migrate import upgrade
from provisioner.models import HealthEvent, Instance, Server, Tenant
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
    """The sweep as checked out (or, with ``--before``, as the former commit's copy on sys.path has it)."""
    from provisioner.catalog.loader import Catalog  # noqa: PLC0415 - from the copy ``--before`` put first
    from provisioner.config import Settings  # noqa: PLC0415
    from provisioner.health.sweep import sweep  # noqa: PLC0415

    settings = Settings(
        database_url=args.database_url, health_concurrency=args.concurrency, health_timeout_seconds=10
    )
    catalog = Catalog.from_dir(settings.resolved_templates_dir)
    times, cpu, checked, changed = [], [], [], []
    for _ in range(args.rounds):
        started, used = time.perf_counter(), time.process_time()
        report = sweep(settings, catalog)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)
        checked.append(report.checked)
        changed.append(len(report.changed))
    return {"times": times, "cpu": cpu, "checked": checked, "changed": changed}


def _variant_sweep_before(args: argparse.Namespace) -> dict[str, Any]:
    """The sweep of ``--before``: its ``provisioner`` package, exported by git, first on sys.path."""
    sys.path.insert(0, args.before_tree)
    for name in [m for m in sys.modules if m == "provisioner" or m.startswith("provisioner.")]:
        del sys.modules[name]
    return _variant_sweep(args)


def _variant_multi(args: argparse.Namespace) -> dict[str, Any]:
    """The sweep's own requests (provisioner.health.multi: libcurl's multi interface), no database."""
    targets = json.loads(Path(args.targets).read_text())
    asks = [Ask(str(n), url, host, Trust(verify=False)) for n, (url, host) in enumerate(targets)]
    times, cpu, ok = [], [], []
    for _ in range(args.rounds):
        started, used = time.perf_counter(), time.process_time()
        found = fetch_all(asks, concurrency=args.concurrency, timeout=10)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)
        ok.append(sum(isinstance(a, Answer) and a.status == 200 for a in found.values()))
    return {"times": times, "cpu": cpu, "checked": ok}


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


def _curl_parallel(args: argparse.Namespace, config: Path, count: int) -> dict[str, Any]:
    times, cpu, peak = [], [], 0
    for _ in range(args.rounds):
        started = time.perf_counter()
        # GNU time reports curl's own peak RSS (ru_maxrss of a forked child counts the parent's pages)
        # and its CPU seconds.
        timed = subprocess.run(
            [
                "/usr/bin/time",
                "-f",
                "%M %U %S",
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
        times.append(time.perf_counter() - started)
        rss, user, system = timed.stderr.strip().splitlines()[-1].split()
        peak = max(peak, int(rss))
        cpu.append(float(user) + float(system))
    return {"times": times, "cpu": cpu, "checked": [count] * args.rounds, "curl_maxrss_kib": peak}


def _variant_curl_parallel(args: argparse.Namespace) -> dict[str, Any]:
    """curl's fastest way: the server's address in the URL, so it keeps a connection per port alive."""
    targets = json.loads(Path(args.targets).read_text())
    config = Path(args.targets).with_suffix(".curl")
    config.write_text("".join(f'url = "{u}"\noutput = "/dev/null"\n' for u, _ in targets))
    return _curl_parallel(args, config, len(targets))


def _variant_curl_each(args: argparse.Namespace) -> dict[str, Any]:
    """curl as the sweep asks: each instance's name in the URL, connected to its server's address
    (``connect-to``), so each instance gets a connection of its own."""
    targets = json.loads(Path(args.targets).read_text())
    config = Path(args.targets).with_suffix(".each.curl")
    entries = []
    for url, host in targets:
        address = url.split("/")[2]
        port = address.rsplit(":", 1)[1]
        entries.append(
            f'url = "http://{host}:{port}/healthz"\nconnect-to = "{host}:{port}:{address}"\n'
            f'header = "Host: {host}"\noutput = "/dev/null"\n'
        )
    config.write_text("next\n".join(entries))
    return _curl_parallel(args, config, len(targets))


def _variant_curl_loop(args: argparse.Namespace) -> dict[str, Any]:
    targets = json.loads(Path(args.targets).read_text())[: args.sample]
    started = time.perf_counter()
    for url, host in targets:
        subprocess.run(["curl", "-s", "-o", "/dev/null", "-H", f"Host: {host}", url], check=True)
    per_request = (time.perf_counter() - started) / len(targets)
    return {"times": [per_request * args.instances], "checked": [len(targets)], "per_request": per_request}


Variant = Callable[[argparse.Namespace], dict[str, Any]]
VARIANTS: dict[str, Variant] = {
    "sweep": _variant_sweep,
    "multi": _variant_multi,
    "curl-each": _variant_curl_each,
    "curl-parallel": _variant_curl_parallel,
    "aiohttp-uvloop": _variant_aiohttp_uvloop,
    "curl-loop": _variant_curl_loop,
}
# Kept for a comparison: plain aiohttp on asyncio's loop and plain httpx (--all), the sweep of a
# former commit (--before).
SLOW_VARIANTS: dict[str, Variant] = {
    "aiohttp": _variant_aiohttp,
    "httpx": _variant_httpx,
    "sweep-before": _variant_sweep_before,
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


def _forget_health(database_url: str) -> None:
    with transaction(database_url) as session:
        session.execute(delete(HealthEvent))
        session.execute(update(Instance).values(health="unknown"))


def _export(commit: str, folder: Path) -> str:
    """The ``provisioner`` package of ``commit`` and the catalog beside it, exported (read-only git)
    into ``folder``."""
    folder.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", commit, "provisioner", "service_templates", "playbooks"],
        check=True,
        capture_output=True,
    )
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return str(folder)


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
        "--before-tree",
        args.before_tree or "",
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
    def sweep_rows(result: dict[str, Any], what: str) -> list[tuple[str, list[float], list[float]]]:
        return [
            (f"{what}, first round (5,000 changes unknown → healthy written, with events)",
             result["times"][:1], result["cpu"][:1]),
            (f"{what}, later rounds (no changes)", result["times"][1:], result["cpu"][1:]),
        ]  # fmt: skip

    rows = sweep_rows(results["sweep"], "provisioner sweep")
    if "sweep-before" in results:
        rows += sweep_rows(results["sweep-before"], f"the sweep of commit {args.before}")
    rows += [
        (
            "the sweep's own requests alone (libcurl's multi interface through pycurl), no database",
            results["multi"]["times"],
            results["multi"]["cpu"],
        ),
        (
            f"curl --parallel --parallel-max {args.concurrency}, one curl process, as the sweep asks "
            "(each instance's name, connect-to its server: a connection each)",
            results["curl-each"]["times"],
            results["curl-each"]["cpu"],
        ),
        (
            f"curl --parallel --parallel-max {args.concurrency}, the server's address in the URL "
            "(connections kept alive and reused)",
            results["curl-parallel"]["times"],
            results["curl-parallel"]["cpu"],
        ),
        (
            "plain aiohttp loop on uvloop (one session, no keep-alive), no database",
            results["aiohttp-uvloop"]["times"],
            [],
        ),
        (
            f"curl once per instance in a loop (measured on {args.sample}, scaled to {args.instances})",
            results["curl-loop"]["times"],
            [],
        ),
    ]
    if "httpx" in results:
        rows += [
            ("plain aiohttp loop on asyncio's own event loop", results["aiohttp"]["times"], []),
            ("plain httpx.AsyncClient loop, no keep-alive", results["httpx"]["times"], []),
        ]
    rss = {
        "provisioner sweep": results["sweep"]["maxrss_kib"],
        "the sweep's own requests alone": results["multi"]["maxrss_kib"],
        "plain aiohttp loop": results["aiohttp-uvloop"]["maxrss_kib"],
        "curl --parallel, a connection each (GNU time)": results["curl-each"]["maxrss_kib"],
    }
    if "sweep-before" in results:
        rss[f"the sweep of commit {args.before}"] = results["sweep-before"]["maxrss_kib"]
    load = os.getloadavg()[0]
    lines = [
        BEGIN,
        "## Health sweep over 5,000 instances",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `benchmarks/health_sweep.py "
        f"--instances {args.instances} --rounds {args.rounds} --concurrency {args.concurrency}`; "
        f"{args.instances} running instances in PostgreSQL on {args.ports} stub servers "
        "(asyncio on uvloop, a process each, plain HTTP, any hostname), code at "
        f"{code_version(REPO)}; {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{pycurl.version}; load average {args.load_before:.2f} "
        f"at the start, {load:.2f} at the end (other work shared the machine).",
        "",
        "| what | seconds per sweep: median (min .. max) | CPU seconds of the client process |",
        "|---|---|---|",
        *[f"| {name} | {_figure(times)} | {_figure(cpu) if cpu else ''} |" for name, times, cpu in rows],
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


def _arguments() -> argparse.Namespace:
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
    parser.add_argument("--before", help="also the sweep of this commit (git archive of its provisioner/)")
    parser.add_argument("--before-tree", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    if args.serve:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(_serve([int(p) for p in args.serve.split(",")]))
        return
    if args.child:
        _child(args)
        return
    args.load_before = os.getloadavg()[0]
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the stub keeps many connections open
    ports = [free_port() for _ in range(args.ports)]
    # One stub process per port: the stubs' own work (a new connection per request) spreads over the cores.
    stubs = [
        subprocess.Popen([sys.executable, __file__, "--serve", str(port)], stdout=subprocess.PIPE, text=True)
        for port in ports
    ]
    try:
        for stub in stubs:
            assert stub.stdout is not None  # noqa: S101 - asked for above
            stub.stdout.readline()
        with temp_database() as database_url, tempfile.TemporaryDirectory() as folder:
            targets_file = Path(folder) / "targets.json"
            targets_file.write_text(json.dumps(_populate(database_url, ports, args.instances)))
            args.before_tree = _export(args.before, Path(folder) / "before") if args.before else None
            variants = [
                *(["sweep-before"] if args.before else []),
                *VARIANTS,
                *(["aiohttp", "httpx"] if args.all else []),
            ]
            results = {}
            for variant in variants:
                if variant.startswith("sweep"):
                    _forget_health(database_url)  # each sweep's first round finds 5,000 changes
                results[variant] = _run_child(variant, args, database_url, targets_file)
    finally:
        for stub in stubs:
            stub.terminate()
            stub.wait()
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
