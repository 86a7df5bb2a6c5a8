"""An idle worker's memory: RSS and PSS of its process tree, and what its tasks import.

Starts `provisioner worker --concurrency 2` in embedded mode (a temporary data folder, SQLite and the
SQL broker, so nothing else is needed), waits until Celery says it is ready and a few seconds more,
reads /proc/<pid>/smaps_rollup of the worker and its pool, stops it and removes the folder. See
README.md.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.deploy_support import code_version
from benchmarks.results_file import write_section

REPO = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- worker-memory:begin -->", "<!-- worker-memory:end -->"
IMPORTS = (
    "import resource, sys; from provisioner.worker.celery_app import app; "
    "app.loader.import_default_modules(); "
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, len(sys.modules))"
)


def tree(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *(p for child in children for p in tree(int(child)))]


def rollup(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value, *_ = line.split()
        fields[name.rstrip(":")] = int(value)
    return fields


# (label, command after the interpreter): the worker as operators start it, then the same application
# with Celery's other pool types, started through Celery's own command line.
CELERY = [
    "-m",
    "celery",
    "-A",
    "provisioner.worker.celery_app",
    "worker",
    "-Q",
    "provisioner",
    "--without-gossip",
    "--loglevel=INFO",  # its "ready." line, which the measurement waits for
]
VARIANTS = {
    "prefork, concurrency 2 (`provisioner worker`, the default)": [
        "-m",
        "provisioner",
        "worker",
        "--concurrency",
        "2",
    ],
    "prefork, concurrency 1": [*CELERY, "--pool", "prefork", "--concurrency", "1"],
    "threads, concurrency 2": [*CELERY, "--pool", "threads", "--concurrency", "2"],
    "solo (one job at a time, in the main process)": [*CELERY, "--pool", "solo"],
}


def measure(settle: float, command: list[str]) -> tuple[int, int, int]:
    """Processes, RSS and PSS (KiB) of an idle worker's tree."""
    with tempfile.TemporaryDirectory(prefix="worker-memory-") as folder:
        env = os.environ | {"PROVISIONER_DATA_DIR": folder}
        log = Path(folder) / "worker.log"
        with log.open("wb") as out:
            worker = subprocess.Popen(
                [sys.executable, *command],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 120
            while b"ready." not in log.read_bytes():
                if worker.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the worker did not get ready:\n{log.read_text()[-2000:]}")
                time.sleep(0.2)
            time.sleep(settle)
            pids = tree(worker.pid)
            figures = [rollup(pid) for pid in pids]
            return len(pids), sum(f["Rss"] for f in figures), sum(f["Pss"] for f in figures)
        finally:
            worker.terminate()  # Celery's warm shutdown stops its pool too
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds idle after ready (default 5)")
    parser.add_argument("--write", action="store_true", help="replace this benchmark's section of results.md")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    figures = {
        label: [measure(args.settle, command) for _ in range(args.runs)]
        for label, command in VARIANTS.items()
    }
    one = subprocess.run(
        [sys.executable, "-c", IMPORTS], capture_output=True, text=True, check=True, cwd=REPO
    )
    maxrss, modules = one.stdout.split()
    rows = []
    for label, runs in figures.items():
        rss = sorted(r[1] // 1024 for r in runs)
        pss = sorted(r[2] // 1024 for r in runs)
        rows.append(
            f"| {label} | {runs[0][0]} | {rss[len(rss) // 2]} ({rss[0]} .. {rss[-1]}) | "
            f"{pss[len(pss) // 2]} ({pss[0]} .. {pss[-1]}) |"
        )
    table = "\n".join(rows)
    section = f"""## Idle worker memory

Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `benchmarks/worker_memory.py --runs {args.runs}`: \
the worker in embedded mode (SQLite, the SQL broker), {args.settle:.0f} s after Celery said it was ready, \
with each of Celery's pool types; {code_version(REPO)}; load average {load_before:.2f} before, \
{os.getloadavg()[0]:.2f} after. RSS counts pages a forked pool process shares with its parent once per \
process; PSS divides shared pages among the processes sharing them (what the tree costs the machine).

| pool | processes | RSS of the tree, MiB: median (min .. max) of {args.runs} | PSS of the tree, MiB |
|---|---|---|---|
{table}

One process after importing the worker's tasks: {maxrss} MiB (ru_maxrss; {modules} modules).
"""
    if args.write:
        write_section(BEGIN, END, f"{BEGIN}\n{section.rstrip()}\n{END}")
    else:
        print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
