"""How fast job events reach the database, and what storing them costs a chatty playbook.

    .venv/bin/python benchmarks/event_storage.py [--events 5000] [--items 300] [--runs 3]

Needs PostgreSQL on 127.0.0.1 (role provisioner, as the test bed starts it). Writes its section of
benchmarks/results.md.
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
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from provisioner.db import transaction
from provisioner.engine.sink import DatabaseSink
from provisioner.jobs.service import create_job
from provisioner.jobs.states import JobKind
from provisioner.models import Instance, Tenant
from provisioner.runner.adapter import run_playbook
from provisioner.runner.spec import HostSpec, RunnerEvent, RunSpec
from tests.support.db import migrated

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.md"
BEGIN, END = "<!-- event-storage:begin -->", "<!-- event-storage:end -->"

CHATTY = """
- name: A chatty playbook
  hosts: all
  gather_facts: false
  tasks:
    - name: Say something for every item
      ansible.builtin.debug:
        msg: "item {{ item }}"
      loop: "{{ range(items | int) | list }}"
"""


class NullSink:
    def emit(self, event: RunnerEvent) -> None:
        pass

    def should_cancel(self) -> bool:
        return False


def _job(url: str) -> str:
    with transaction(url) as session:
        tenant = Tenant(slug=f"bench-{time.monotonic_ns()}", name="bench", contact_email="b@example.org")
        session.add(tenant)
        session.flush()
        instance = Instance(
            tenant_id=tenant.id, template="homepage", version="1.0", name="b", state="running"
        )
        session.add(instance)
        session.flush()
        return create_job(session, instance=instance, kind=JobKind.DEPLOY).id


def events_per_second(url: str, count: int, *, batch: int) -> float:
    sink = DatabaseSink(url, _job(url), max_batch=batch)
    now = datetime.now(UTC)
    started = time.perf_counter()
    for seq in range(1, count + 1):
        sink.emit(RunnerEvent(seq, now, "s1", "task", "ok", f"ok: task {seq}", f"ok: [s1] => item {seq}"))
    sink.flush()
    return count / (time.perf_counter() - started)


def _spec(playbooks: Path, items: int) -> RunSpec:
    return RunSpec(
        playbook="chatty.yml",
        playbooks_dir=playbooks,
        host=HostSpec(
            name="local", address="127.0.0.1", port=22, user="root", connection="local", host_key=None
        ),
        variables={"items": str(items)},
        timeout_seconds=600,
    )


def timed(action: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def playbook_rows(url: str, tmp: Path, *, items: int, runs: int) -> list[str]:
    playbooks = tmp / "playbooks"
    playbooks.mkdir()
    (playbooks / "chatty.yml").write_text(CHATTY)
    spec = _spec(playbooks, items)
    work = tmp / "runs"
    inventory = tmp / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    local:\n      ansible_connection: local\n")
    plain = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory)]
    plain += [str(playbooks / "chatty.yml"), "-e", f"items={items}"]
    measured = {
        "through the runner, events stored in PostgreSQL": timed(
            lambda: run_playbook(spec, DatabaseSink(url, _job(url)), work_root=work), runs
        ),
        "through the runner, events dropped": timed(
            lambda: run_playbook(spec, NullSink(), work_root=work), runs
        ),
        "plain ansible-playbook": timed(lambda: subprocess.run(plain, check=True, capture_output=True), runs),
    }
    return [
        f"| playbook with {items} loop items, {label}, s "
        f"| {statistics.median(times):.2f} ({min(times):.2f} .. {max(times):.2f}) |"
        for label, times in measured.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for kind in ("postgresql", "sqlite"):
            with migrated(kind, tmp) as url:
                for batch, label in ((50, "batches of 50"), (1, "one transaction each")):
                    rate = statistics.median(
                        events_per_second(url, args.events, batch=batch) for _ in range(args.runs)
                    )
                    rows.append(f"| {kind}: events stored per second, {label} | {rate:,.0f} |")
                if kind == "postgresql":
                    rows += playbook_rows(url, tmp, items=args.items, runs=args.runs)
    section = "\n".join(
        [
            BEGIN,
            "## Event storage",
            "",
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `benchmarks/event_storage.py` "
            f"(median of {args.runs} runs; {args.events} synthetic events per run).",
            f"{os.cpu_count()} cores, Python {platform.python_version()}, "
            f"ansible-core {version('ansible-core')}, ansible-runner {version('ansible-runner')}.",
            "",
            "| what | figure |",
            "|---|---|",
            *rows,
            END,
        ]
    )
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if BEGIN in text:
        text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    RESULTS.write_text(text)
    print(section)


if __name__ == "__main__":
    main()
