"""What the provisioner adds to a deploy: its full production path against plain ansible-playbook.

Both run in one process, on the same sshd test server and its Caddy proxy, with the same run spec;
see README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `tests.support` when run as a script

import docker

from benchmarks.deploy_support import (
    BenchError,
    code_version,
    deploy_facts,
    find_worker,
    peak_rss,
    plain_run,
    raw_run,
    remove_leftovers,
    step_rows,
    step_times,
    temp_database,
    temp_redis,
    tree_rss,
)
from provisioner.catalog.loader import Catalog
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.deployments.plan import build_run_spec
from provisioner.health.check import check_health
from provisioner.health.probe import Health
from provisioner.ids import new_id
from provisioner.images import build_image, load_recipe
from provisioner.jobs.states import JobKind
from provisioner.models import Instance
from tests.conftest import REGISTRY
from tests.support.api_client import ApiClient, new_tenant
from tests.support.images import IMAGE_CACHE
from tests.support.lab import add_server, approve, remove_through_api, request_instance, succeeded
from tests.support.sshd import free_address_pair, running_servers
from tests.support.stack import _tail, production_stack

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = "homepage"
# Built from Debian packages (or found in the cache) and pushed, as the tests' fixtures do.
IMAGES = {f"{TEMPLATE}/image": f"provisioner/{TEMPLATE}", "_images/proxy": "provisioner/proxy"}
MIB = 1024 * 1024
POLL_S = 0.2  # how often ApiClient.wait_for_job asks about a job
RESULTS = REPO / "benchmarks" / "results.md"  # other benchmarks keep their own sections in it
Steps = dict[str, list[tuple[str, float]]]  # a job's steps and their seconds, longest first
BEGIN, END = "<!-- deploy-overhead:begin -->", "<!-- deploy-overhead:end -->"


def build_images(client: docker.DockerClient) -> None:
    for recipe, name in IMAGES.items():
        folder = REPO / "service_templates" / recipe
        for number in load_recipe(folder).versions:
            build_image(
                folder, name=name, version=number, registry=REGISTRY, cache_dir=IMAGE_CACHE, client=client
            )


class Bench:
    """The running parts, each undone by `cleanup`; the rounds add their figures to `results`."""

    def __init__(self, cleanup: ExitStack, args: argparse.Namespace) -> None:
        self.results: dict[str, list[float]] = {}
        self.steps: Steps = {}  # the last round's jobs, step by step
        self.instance_ids: list[str] = []  # what this run deployed, on either side
        self.server_ids: list[str] = []  # whose proxy the first deploy starts
        self.catalog = Catalog.from_dir(REPO / "service_templates")
        self.template = self.catalog.get(TEMPLATE)
        self.work = work = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="deploy-overhead-")))
        self.db = cleanup.enter_context(temp_database())
        broker = cleanup.enter_context(temp_redis(args.redis_db))
        self.docker = client = docker.from_env()
        cleanup.callback(client.close)
        build_images(client)
        (work / "sshd").mkdir()
        address = args.address or free_address_pair()[0]  # clear of concurrent test sessions
        self.server = cleanup.enter_context(running_servers(work / "sshd", [address]))[0]
        # Runs after the stack has stopped: the instances first, then the proxy they were attached to.
        cleanup.callback(remove_leftovers, client, self.instance_ids, self.server_ids)
        stack = {"database_url": self.db, "broker_url": broker, "ssh_key": self.server.client_key}
        # Another playbooks folder (an earlier version's) for both sides: the stack's setting, the plain
        # runs' specs through the settings read back from it.
        playbooks = {"PROVISIONER_PLAYBOOKS_DIR": str(args.playbooks)} if args.playbooks else None
        self.stack = cleanup.enter_context(
            production_stack(work / "data", **stack, registry=REGISTRY, env=playbooks)
        )
        env = {k.removeprefix("PROVISIONER_").lower(): v for k, v in self.stack.env.items()}
        self.settings = Settings(**{k: v for k, v in env.items() if k in Settings.model_fields})
        self.worker = find_worker()
        self.operator = cleanup.enter_context(ApiClient(self.stack.base_url, self.stack.operator_token))
        self.server_ids.append(add_server(self.operator, self.server))
        self.tenant = cleanup.enter_context(new_tenant(self.operator, self.stack.base_url, "bench")[1])

    def record(self, counted: bool, **figures: float) -> None:
        for name, value in figures.items() if counted else ():
            self.results.setdefault(name, []).append(value)

    def provisioner_round(self, counted: bool) -> Instance:
        """Request, approve and wait; probe; remove and wait. Returns the approved row, detached."""
        name, parameters = f"bench-{len(self.instance_ids)}", {"title": "B"}
        instance_id = request_instance(self.tenant, template=TEMPLATE, name=name, parameters=parameters)["id"]
        self.instance_ids.append(instance_id)
        idle = tree_rss(self.worker)
        with peak_rss(self.worker) as peak:
            started = time.monotonic()
            job = succeeded(self.operator, approve(self.operator, instance_id, self.server_ids[0]))
            deploy_s = time.monotonic() - started
        url = self.tenant.call("GET", f"/api/v1/instances/{instance_id}", expect=200)["url"]
        # The worker's own probe: through the proxy by hostname, at the server's public address.
        started = time.monotonic()
        if check_health(self.template.health, url=url, address=self.server.address) is not Health.HEALTHY:
            raise BenchError(f"instance {instance_id} is not healthy through the proxy at {url}")
        probe_ms = (time.monotonic() - started) * 1000
        with transaction(self.db) as session:
            row = session.get_one(Instance, instance_id)
            session.expunge(row)
        facts = deploy_facts(self.db, job["id"])
        started = time.monotonic()
        removal = remove_through_api(self.tenant, instance_id)
        remove_s, seen_s = time.monotonic() - started, deploy_s - facts["server_s"]
        self.steps = {"deploy": step_times(self.db, job["id"]), "removal": step_times(self.db, removal["id"])}
        self.record(
            counted, **facts, a_deploy_s=deploy_s, a_remove_s=remove_s, seen_s=seen_s, probe_ms=probe_ms
        )
        self.record(counted, a_rss=peak[0] / MIB, a_idle=idle / MIB, a_grow=(peak[0] - idle) / MIB)
        return row

    def plain_round(self, row: Instance, counted: bool) -> None:
        """The worker's run specs for the approved row under a fresh id: same variables, files and proxy."""
        row.id = new_id("ins")
        self.instance_ids.append(row.id)
        kinds = (JobKind.DEPLOY, JobKind.REMOVE)
        deploy, remove = (build_run_spec(self.settings, self.catalog, row, kind) for kind in kinds)
        deploy_s, peak = plain_run(deploy, self.server.client_key, self.work)
        remove_s, _ = plain_run(remove, self.server.client_key, self.work)
        self.record(counted, b_deploy_s=deploy_s, b_remove_s=remove_s, b_rss=peak / MIB)
        row.id = new_id("ins")  # the same once more with Mitogen for Ansible's strategy
        self.instance_ids.append(row.id)
        deploy, remove = (build_run_spec(self.settings, self.catalog, row, kind) for kind in kinds)
        deploy_s, peak = plain_run(deploy, self.server.client_key, self.work, mitogen=True)
        remove_s, _ = plain_run(remove, self.server.client_key, self.work, mitogen=True)
        self.record(counted, c_deploy_s=deploy_s, c_remove_s=remove_s, c_rss=peak / MIB)
        # The raw tool: the instance's image started by `docker run` until its first 200.
        image = deploy.variables["containers"][0]["image"]
        self.record(counted, d_deploy_s=raw_run(self.docker, image, self.server.address, row.id))

    def run(
        self, runs: int, warmup: int
    ) -> tuple[dict[str, list[float]], dict[str, list[tuple[str, float]]]]:
        """The first (warm-up) round deploys through the provisioner first, which starts the proxy."""
        row = None
        try:
            for number in range(-warmup, runs):  # below zero: warm-up rounds, not counted
                print(f"round {number + 1} of {runs}" if number >= 0 else "warm-up round", file=sys.stderr)
                if row is None or number % 2 == 0:
                    row = self.provisioner_round(number >= 0)
                    self.plain_round(row, number >= 0)
                else:  # every other round the plain run goes first, so neither always follows the other
                    self.plain_round(row, number >= 0)
                    row = self.provisioner_round(number >= 0)
        except Exception:
            print(f"--- logs of the provisioner processes:\n{_tail(self.stack.logs)}", file=sys.stderr)
            raise
        return self.results, self.steps


# (label, provisioner figure, plain figure, decimals); rows without a plain figure break a deploy down.
ROWS = [
    ("**deploy**: POST approve until the job succeeded, s", "a_deploy_s", "b_deploy_s", 2),
    ("**removal**: DELETE until the job succeeded, s", "a_remove_s", "b_remove_s", 2),
    ("peak RSS of the process tree during a deploy, MiB", "a_rss", "b_rss", 0),
    (
        "**deploy**, plain ansible-playbook with Mitogen for Ansible (beside: without), s",
        "c_deploy_s",
        "b_deploy_s",
        2,
    ),
    (
        "**removal**, plain ansible-playbook with Mitogen for Ansible (beside: without), s",
        "c_remove_s",
        "b_remove_s",
        2,
    ),
    ("peak RSS of the plain ansible-playbook tree with Mitogen (beside: without), MiB", "c_rss", "b_rss", 0),
    (
        "**raw**: `docker run` of the same image until its first 200 (beside: plain), s",
        "d_deploy_s",
        "b_deploy_s",
        2,
    ),
    ("the worker tree idle, before the deploy, MiB", "a_idle", None, 0),
    ("peak RSS minus the idle worker, MiB", "a_grow", "b_rss", 0),
    ("job created until sent to Redis (API commit, dispatch), s", "dispatch_s", None, 2),
    ("sent until claimed (Celery pick-up, claim transaction), s", "claim_s", None, 2),
    ("claimed until the play starts (run spec, ansible-runner and Ansible start), s", "start_s", None, 2),
    ("play start until the last event (the playbook), s", "playbook_s", None, 2),
    ("last event until finished (Ansible exit, event flush, health probe, settle), s", "settle_s", None, 2),
    (f"finished until the client saw it (it polls every {POLL_S} s), s", "seen_s", None, 2),
    ("the health probe through the proxy by hostname (HTTPS), timed alone, ms", "probe_ms", None, 1),
    ("job events stored per deploy", "events", None, 0),
    ("their stored size (pg_column_size), KiB", "event_kib", None, 1),
    ("transactions the worker writes them in (0.5 s or 50 events each)", "batches", None, 0),
    ("writing them again in such transactions, ms", "write_ms", None, 1),
]


def spread(values: list[float], digits: int) -> str:
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f} .. {max(values):.{digits}f})"


def report(
    r: dict[str, list[float]],
    steps: Steps,
    args: argparse.Namespace,
    load: tuple[str, str],
    code: str,
) -> str:
    m = {name: statistics.median(values) for name, values in r.items()}
    table = []
    for label, a, b, digits in ROWS:
        row = [label, spread(r[a], digits), "", ""]
        if b:
            delta, pct = round(m[a] - m[b], digits) + 0.0, round((m[a] / m[b] - 1) * 100)  # + 0.0: no "-0"
            row[2:] = [spread(r[b], digits), f"{delta:+.{digits}f} ({pct:+d} %)"]
        table.append(f"| {' | '.join(row)} |")
    rows = "\n".join(table)
    cpu = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((x.split(":", 1)[1].strip() for x in cpu if x.startswith("model name")), "unknown CPU")
    cores = sum(x.startswith("processor") for x in cpu)
    ram = next(int(x.split()[1]) for x in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in x)
    extra = m["a_deploy_s"] - m["b_deploy_s"]
    noise = min(max(r[k]) - min(r[k]) for k in ("a_deploy_s", "b_deploy_s"))
    verdict = "less" if abs(extra) < noise else "more"
    return f"""## Deploy overhead: provisioner vs plain ansible-playbook

Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `benchmarks/deploy_overhead.py --runs {args.runs}` \
({args.warmup} warm-up round(s) not counted; the first deploy, in the warm-up, starts the server's Caddy \
proxy, which then serves every later deploy on both sides), template `{TEMPLATE}`, one sshd test server.

- Machine: {model}, {cores} cores, {ram / 1024**2:.1f} GiB RAM, Linux {platform.release()}; \
load average {load[0]} before the run, {load[1]} after
- Code: {code}{f"; the playbooks of {args.playbooks_label or args.playbooks}" if args.playbooks else ""}
- Versions: ansible-core {version("ansible-core")}, ansible-runner {version("ansible-runner")}, \
Python {platform.python_version()}, celery {version("celery")}

Median (min .. max) of {args.runs} runs.

| | provisioner (API + worker + beat), or as the row says | plain ansible-playbook | difference |
|---|---|---|---|
{rows}

### Interpretation

A deploy through the provisioner took {m["a_deploy_s"]:.2f} s: \
{m["a_deploy_s"] / m["d_deploy_s"]:.0f} times the {m["d_deploy_s"]:.2f} s of `docker run` of the same \
image until its first 200, and {m["a_deploy_s"] / m["b_deploy_s"]:.2f} times plain ansible-playbook. \
With Mitogen for Ansible plain ansible-playbook took {m["c_deploy_s"]:.2f} s to deploy and \
{m["c_remove_s"]:.2f} s to remove.
A deploy through the provisioner took {m["a_deploy_s"]:.2f} s against {m["b_deploy_s"]:.2f} s for plain \
ansible-playbook ({extra:+.2f} s, {extra / m["b_deploy_s"] * 100:+.0f} %), {verdict} than the run-to-run \
spread of {noise:.2f} s; a removal took {m["a_remove_s"]:.2f} s against {m["b_remove_s"]:.2f} s. \
Both sides run the same playbooks with the same run spec, so both pay the proxy steps (proxy kept running, \
the instance's site block written, Caddy reloaded, the health check by curl inside the proxy over HTTPS). \
Queueing costs little once the worker is warm (the warm-up round absorbs the first job's connection set-up): \
the job reaches Redis {m["dispatch_s"]:.2f} s after its creation and is claimed {m["claim_s"]:.2f} s later. \
From the claim to the first play takes {m["start_s"]:.2f} s (run spec, private folder, ansible-runner and \
mostly Ansible's own start, which the plain run pays too), and from the last event to the finished job \
{m["settle_s"]:.2f} s (ansible-playbook's exit, ansible-runner's wrap-up, the last event flush, the \
worker's own health probe through the proxy by hostname at {m["probe_ms"]:.0f} ms, which the plain run does \
not make, and the settle transaction); the polling client saw the result \
{m["seen_s"]:.2f} s after that. Each deploy stored {m["events"]:.0f} events ({m["event_kib"]:.1f} KiB) \
in {m["batches"]:.0f} transactions while Ansible ran; written again the same way they take \
{m["write_ms"]:.0f} ms, {m["write_ms"] / m["a_deploy_s"] / 10:.1f} % of the deploy. \
The clearer cost is memory: the idle worker tree (Celery and its pool of two; RSS counts their \
shared pages more than once) holds {m["a_idle"]:.0f} MiB before any deploy and grows by \
{m["a_grow"]:.0f} MiB during one, against {m["b_rss"]:.0f} MiB for the whole plain ansible-playbook tree.

Where the last round's jobs spent their time, longest steps first (seconds, from the job's events: a step \
lasts until the next one begins):

| job | total, s | longest steps, s |
|---|---|---|
{chr(10).join(step_rows(steps))}
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="measured rounds (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="rounds run first, not counted (default 1)")
    parser.add_argument("--address", help="loopback address for the sshd test server (default: a free one)")
    parser.add_argument("--redis-db", type=int, default=7, help="an empty Redis database (default 7)")
    parser.add_argument("--playbooks", type=Path, help="another playbooks folder (an earlier version's, say)")
    parser.add_argument("--playbooks-label", help="how the report names that folder (a commit, say)")
    parser.add_argument("--no-write", action="store_true", help="print the report only")
    args = parser.parse_args()
    if args.runs < 1 or args.warmup < 1:  # the warm-up also starts the proxy, which no measured round should
        parser.error("--runs and --warmup must be at least 1")
    tools = ("ssh-agent", "debootstrap")  # debootstrap: the images are built from Debian packages
    if os.geteuid() != 0 or not Path("/usr/sbin/sshd").is_file() or not all(map(shutil.which, tools)):
        print(
            "deploy_overhead: needs root, sshd, ssh-agent, debootstrap (scripts/testbed/install.sh)",
            file=sys.stderr,
        )
        return 2
    load_before, code = Path("/proc/loadavg").read_text().split()[0], code_version(REPO)
    try:
        with ExitStack() as cleanup:
            results, steps = Bench(cleanup, args).run(args.runs, args.warmup)
        markdown = report(
            results, steps, args, (load_before, Path("/proc/loadavg").read_text().split()[0]), code
        )
    except KeyboardInterrupt:
        print("deploy_overhead: interrupted; what it started is cleaned up", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"deploy_overhead: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(markdown)
    if args.no_write:
        return 0
    section = f"{BEGIN}\n{markdown.rstrip()}\n{END}"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    RESULTS.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
