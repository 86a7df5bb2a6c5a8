"""What a password login costs, against argon2-cffi's verify alone, and whether a wrong e-mail address
answers as fast as a wrong password (it should: an unknown address is verified against a dummy hash).

    .venv/bin/python benchmarks/login_cost.py [--logins 15]

Needs PostgreSQL on 127.0.0.1 (role provisioner, as the test bed starts it). Writes its section of
benchmarks/results.md. At most 15 logins: the API allows 20 login attempts a minute from one address.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from api.app import create_app
from benchmarks.results_file import write_section
from provisioner.accounts.service import create_user
from provisioner.auth.actor import Role
from provisioner.config import Settings
from provisioner.db import transaction
from tests.support.db import migrated

BEGIN, END = "<!-- login-cost:begin -->", "<!-- login-cost:end -->"
PASSWORD = "a long enough secret for the benchmark"  # noqa: S105 - made up for the run


def _ms(fn: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _row(label: str, values: list[float]) -> str:
    return f"| {label} | {statistics.median(values):.1f} ({min(values):.1f} .. {max(values):.1f}) |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--logins", type=int, default=15)
    runs = min(parser.parse_args().logins, 15)
    hasher = PasswordHasher()
    stored = hasher.hash(PASSWORD)
    raw = _ms(lambda: hasher.verify(stored, PASSWORD), runs)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    with tempfile.TemporaryDirectory() as tmp, migrated("postgresql", Path(tmp)) as url:
        with transaction(url) as session:
            for n in range(runs):
                create_user(
                    session,
                    email=f"p{n}@lab.example",
                    name="P",
                    password=PASSWORD,
                    role=Role.OPERATOR,
                    tenant_id=None,
                )
        app = create_app(Settings(data_dir=Path(tmp), database_url=url, broker_url="memory://"))
        with TestClient(app) as client:
            emails = iter(range(runs))

            def login(password: str, prefix: str = "p") -> None:
                response = client.post(
                    "/api/v1/session",
                    json={"email": f"{prefix}{next(emails)}@lab.example", "password": password},
                )
                if response.status_code not in {200, 401}:
                    raise RuntimeError(response.text)

            ok = _ms(lambda: login(PASSWORD), runs)
        # A second app: the first one's address has used up its login attempts for this minute.
        app = create_app(Settings(data_dir=Path(tmp), database_url=url, broker_url="memory://"))
        with TestClient(app, client=("192.0.2.2", 50000)) as client:
            emails = iter(range(runs))
            wrong_password = _ms(lambda: login("not the password at all"), runs // 2)
            unknown_email = _ms(lambda: login(PASSWORD, prefix="nobody"), runs - runs // 2)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    section = "\n".join(
        [
            BEGIN,
            "## Password login: the API against argon2-cffi alone",
            "",
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `benchmarks/login_cost.py` "
            f"({runs} logins per row, in-process API on PostgreSQL, argon2id with argon2-cffi's "
            "default parameters: t=3, m=64 MiB, p=4).",
            "",
            f"- Machine: {platform.machine()}, {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} "
            "(other engineers' test sessions shared the machine, so times are inflated and noisy)",
            f"- Code: commit {commit.stdout.strip()}; argon2-cffi {version('argon2-cffi')}, "
            f"Python {platform.python_version()}",
            f"- Peak RSS of the benchmark process: {rss_before:.0f} MiB after the raw verifies, "
            f"{rss_after:.0f} MiB at the end",
            "",
            "Median (min .. max), ms.",
            "",
            "| | ms |",
            "|---|---|",
            _row("argon2-cffi `verify` alone", raw),
            _row("`POST /api/v1/session`, right password (verify, rate limit, session, cookie)", ok),
            _row("`POST /api/v1/session`, wrong password (401)", wrong_password),
            _row("`POST /api/v1/session`, unknown e-mail address (401, dummy verify)", unknown_email),
            END,
        ]
    )
    write_section(BEGIN, END, section)


if __name__ == "__main__":
    main()
