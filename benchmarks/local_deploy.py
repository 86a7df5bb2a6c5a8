"""A homepage deploy and removal on the embedded default's own server, against `docker run` of the same image.

`provisioner up` in a temporary data folder (SQLite, the embedded broker) registers this machine as
server `local` when Docker answers; each round requests a `homepage` instance, times POST approve until
its job succeeded and DELETE until the removal succeeded, and times the raw tool: `docker run` of the
same image until its first 200. A trivial one-task local `ansible-playbook` run gives Ansible's own
floor. See README.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `tests.support` when run as a script

import docker

from benchmarks.deploy_support import (
    BenchError,
    code_version,
    raw_run,
    remove_leftovers,
    step_rows,
    step_times,
)
from benchmarks.results_file import publish
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.models import Job, JobEvent
from provisioner.servers.local import LOCAL_NAME
from tests.conftest import REGISTRY
from tests.support.api_client import ApiClient, new_tenant
from tests.support.images import build_all
from tests.support.lab import job_succeeded, request_instance
from tests.support.stack import _tail, embedded_stack

REPO = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- local-deploy:begin -->", "<!-- local-deploy:end -->"
TRIVIAL = "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - ansible.builtin.command: 'true'\n"
Steps = dict[str, list[tuple[str, float]]]


def wait(client: ApiClient, accepted: dict[str, dict[str, str]]) -> tuple[float, str]:
    """How long the accepted job took to succeed, as its client sees it, and the job's id."""
    started = time.monotonic()
    job = job_succeeded(client, accepted)
    return time.monotonic() - started, job["id"]


def phases(database_url: str, job_id: str) -> dict[str, float]:
    """A job's own timestamps: queued until claimed, claimed until its first event, the play, the end."""
    with transaction(database_url) as session:
        job = session.get_one(Job, job_id)
        stamps = [
            e.created_at for e in session.query(JobEvent).filter_by(job_id=job_id).order_by(JobEvent.seq)
        ]
        marks = [job.created_at, job.started_at, stamps[0], stamps[-1], job.finished_at]
    names = ("queued_s", "start_s", "play_s", "settle_s")
    return {n: (b - a).total_seconds() for n, a, b in zip(names, marks, marks[1:], strict=False)}


def trivial_playbook(work: Path) -> float:
    """One `command: true` on localhost over the local connection: what any Ansible run costs here."""
    (work / "trivial.yml").write_text(TRIVIAL)
    ansible = Path(sys.executable).parent / "ansible-playbook"
    started = time.monotonic()
    subprocess.run(
        [
            str(ansible),
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            str(work / "trivial.yml"),
        ],
        check=True,
        capture_output=True,
    )
    return time.monotonic() - started


def run(args: argparse.Namespace, cleanup: ExitStack) -> tuple[dict[str, list[float]], Steps]:
    client = docker.from_env()
    cleanup.callback(client.close)
    images = {recipe: build_all(recipe, f"provisioner/{name}", client=client, registry=REGISTRY)
              for recipe, name in (("homepage/image", "homepage"), ("_images/proxy", "proxy"))}  # fmt: skip
    image = images["homepage/image"][max(images["homepage/image"])]
    work = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="local-deploy-")))
    instance_ids: list[str] = []
    server_ids: list[str] = []
    # After the stack has stopped: this run's instances, then the local server's proxy.
    cleanup.callback(remove_leftovers, client, instance_ids, server_ids)
    playbooks = {"PROVISIONER_PLAYBOOKS_DIR": str(args.playbooks)} if args.playbooks else None
    stack = cleanup.enter_context(
        embedded_stack(work / "data", ssh_key=work / "unused-key", registry=REGISTRY, env=playbooks)
    )
    database = Settings(data_dir=work / "data").resolved_database_url
    operator = cleanup.enter_context(ApiClient(stack.base_url, stack.operator_token))
    servers = operator.call("GET", "/api/v1/servers", expect=200)["items"]
    local = next((s for s in servers if s["name"] == LOCAL_NAME), None)
    if local is None:
        raise BenchError("the embedded stack registered no local server (does Docker answer?)")
    server_ids.append(local["id"])
    tenant = cleanup.enter_context(new_tenant(operator, stack.base_url, "bench")[1])
    results: dict[str, list[float]] = {}
    steps: Steps = {}
    try:
        for number in range(-args.warmup, args.runs):  # below zero: warm-up, which starts the proxy
            name, parameters = f"bench-{len(instance_ids)}", {"title": "B"}
            instance_id = request_instance(tenant, template="homepage", name=name, parameters=parameters)[
                "id"
            ]
            instance_ids.append(instance_id)
            raw_first = number % 2 == 1
            raw_s = raw_run(client, image, local["address"], instance_id) if raw_first else 0.0
            approve = f"/api/v1/instances/{instance_id}/approve"
            deploy_s, deploy_job = wait(
                operator, operator.call("POST", approve, expect=202, json={"server": local["id"]})
            )
            removal = tenant.call("DELETE", f"/api/v1/instances/{instance_id}", expect=202)
            remove_s, remove_job = wait(tenant, removal)
            if not raw_first:
                raw_s = raw_run(client, image, local["address"], instance_id)
            print(f"round {number + 1}: deploy {deploy_s:.2f} s, removal {remove_s:.2f} s, raw {raw_s:.2f} s",
                  file=sys.stderr)  # fmt: skip
            if number < 0:
                continue
            figures = {"deploy_s": deploy_s, "remove_s": remove_s, "raw_s": raw_s,
                       "trivial_s": trivial_playbook(work)}  # fmt: skip
            figures |= {f"deploy_{k}": v for k, v in phases(database, deploy_job).items()}
            figures |= {f"remove_{k}": v for k, v in phases(database, remove_job).items()}
            for name, value in figures.items():
                results.setdefault(name, []).append(value)
            steps = {"deploy": step_times(database, deploy_job), "removal": step_times(database, remove_job)}
    except Exception:
        print(f"--- logs of the provisioner:\n{_tail(stack.logs)}", file=sys.stderr)
        raise
    return results, steps


ROWS = [
    ("**deploy**: POST approve until the job succeeded", "deploy_s"),
    ("**raw**: `docker run` of the same image until its first 200", "raw_s"),
    ("**removal**: DELETE until the job succeeded", "remove_s"),
    ("a trivial local `ansible-playbook` (one `command: true`)", "trivial_s"),
    ("deploy: created until claimed by the worker", "deploy_queued_s"),
    ("deploy: claimed until the first event (run spec, ansible-runner and Ansible start)", "deploy_start_s"),
    ("deploy: first until last event (the playbook)", "deploy_play_s"),
    ("deploy: last event until finished (Ansible exit, health probe, settle)", "deploy_settle_s"),
    ("removal: created until claimed", "remove_queued_s"),
    ("removal: claimed until the first event", "remove_start_s"),
    ("removal: first until last event", "remove_play_s"),
    ("removal: last event until finished", "remove_settle_s"),
]


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f} .. {max(values):.2f})"


def report(r: dict[str, list[float]], steps: Steps, args: argparse.Namespace, load: tuple[float, float],
           code: str) -> str:  # fmt: skip
    m = {name: statistics.median(values) for name, values in r.items()}
    ratio = m["deploy_s"] / m["raw_s"]
    return "\n".join([
        BEGIN,
        "## Deploy and removal on the embedded default's local server",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `benchmarks/local_deploy.py --runs {args.runs}` "
        f"({args.warmup} warm-up round(s) not counted; the first deploy starts the local server's proxy): "
        "`provisioner up` (SQLite, embedded broker) deploying `homepage` to server `local`, this machine's "
        "Docker Engine without SSH; the client polls the job every 0.2 s. The raw side runs in the same "
        "round, "
        "before or after the provisioner's by turns"
        + (f"; the playbooks of {args.playbooks_label or args.playbooks}" if args.playbooks else "")
        + ".",
        "",
        f"- Machine: {os.cpu_count()} cores; load average {load[0]:.2f} before, {load[1]:.2f} after; {code}",
        "",
        f"Median (min .. max) of {args.runs} rounds, seconds.",
        "",
        "| | s |",
        "|---|---|",
        *(f"| {label} | {spread(r[key])} |" for label, key in ROWS),
        f"| **deploy ÷ raw** (goal ≤ 10) | **{ratio:.1f}** |",
        "",
        "Where the last round's jobs spent their time, longest steps first (seconds, from the job's "
        "events: a "
        "step lasts until the next one begins):",
        "",
        "| job | total, s | longest steps, s |",
        "|---|---|---|",
        *step_rows(steps),
        END,
    ])  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="measured rounds (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="rounds first, not counted (default 1)")
    parser.add_argument("--write", action="store_true", help="replace this section of results.md")
    parser.add_argument("--playbooks", type=Path, help="another playbooks folder (an earlier version's, say)")
    parser.add_argument("--playbooks-label", help="how the report names that folder (a commit, say)")
    args = parser.parse_args()
    if args.runs < 1 or args.warmup < 1:  # the warm-up starts the proxy, which no measured round should
        parser.error("--runs and --warmup must be at least 1")
    load_before, code = os.getloadavg()[0], code_version(REPO)
    try:
        with ExitStack() as cleanup:
            results, steps = run(args, cleanup)
    except KeyboardInterrupt:
        print("local_deploy: interrupted; what it started is cleaned up", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"local_deploy: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    publish(
        BEGIN, END, report(results, steps, args, (load_before, os.getloadavg()[0]), code), write=args.write
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
