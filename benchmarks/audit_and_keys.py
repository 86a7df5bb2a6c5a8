"""What the audit log adds to a mutating request, and how long a key rotation takes.

    .venv/bin/python benchmarks/audit_and_keys.py [--requests 300] [--values 2000] [--runs 3]

The request is compared with the same application without the audit middleware; the rotation with
re-encrypting the same values in memory (Fernet alone, no database). Needs PostgreSQL on 127.0.0.1
(role provisioner, as the test bed starts it). Writes its section of benchmarks/results.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from api.audit.middleware import AuditMiddleware
from provisioner.auth.actor import Role
from provisioner.auth.tokens import create_token
from provisioner.config import Settings
from provisioner.crypto import encrypt, keyring
from provisioner.db import transaction
from provisioner.keys import rotate_keys
from provisioner.models import Instance, InstanceSecret, Tenant
from tests.support.db import migrated

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.md"
BEGIN, END = "<!-- audit-and-keys:begin -->", "<!-- audit-and-keys:end -->"
OLD, NEW = "benchmark-old-secret-key", "benchmark-new-secret-key"


def request_ms(url: str, tmp: Path, *, audited: bool, requests: int) -> float:
    """Median milliseconds of a PATCH that sets a tenant's quota (a small mutating request)."""
    settings = Settings(data_dir=tmp, database_url=url, broker_url="memory://", secret_key=OLD)
    app = create_app(settings)
    if not audited:
        app.user_middleware = [m for m in app.user_middleware if m.cls is not AuditMiddleware]
    with transaction(url) as session:
        _, token = create_token(session, name="bench", role=Role.OPERATOR, tenant_id=None)
        tenant = Tenant(slug=f"b{time.monotonic_ns()}", name="bench", contact_email="b@example.org")
        session.add(tenant)
        session.flush()
        tenant_id = tenant.id
    headers = {"Authorization": f"Bearer {token}"}
    times = []
    with TestClient(app) as client:
        for i in range(requests):
            started = time.perf_counter()
            response = client.patch(
                f"/api/v1/tenants/{tenant_id}", json={"quota": {"instances": i % 50}}, headers=headers
            )
            times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(response.text)
    return statistics.median(times)


def _fill(url: str, settings: Settings, values: int) -> None:
    with transaction(url) as session:
        tenant = Tenant(slug=f"k{time.monotonic_ns()}", name="bench", contact_email="b@example.org")
        session.add(tenant)
        session.flush()
        for n in range((values + 99) // 100):
            instance = Instance(
                tenant_id=tenant.id, template="wordpress", version="6.1", name=f"i{n}", state="requested"
            )
            session.add(instance)
            session.flush()
            session.add_all(
                InstanceSecret(instance_id=instance.id, name=f"s{k}", encrypted=encrypt(settings, "x" * 32))
                for k in range(100)
            )


def rotation_seconds(url: str, tmp: Path, values: int) -> tuple[float, float]:
    """(rotate_keys in one transaction, the same re-encryption in memory only)."""
    settings = Settings(data_dir=tmp, database_url=url, secret_key=OLD)
    _fill(url, settings, values)
    with transaction(url) as session:
        tokens = list(session.scalars(select(InstanceSecret.encrypted)))
    ring = keyring(NEW, OLD)
    started = time.perf_counter()
    for token in tokens:
        ring.rotate(token.encode())
    in_memory = time.perf_counter() - started
    started = time.perf_counter()
    with transaction(url) as session:
        rotate_keys(session, settings, new_key=NEW)
    return time.perf_counter() - started, in_memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--values", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows: list[str] = []
    load_before = os.getloadavg()[0]
    for kind in ("postgresql", "sqlite"):
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            with migrated(kind, tmp) as url:
                plain = [
                    request_ms(url, tmp, audited=False, requests=args.requests) for _ in range(args.runs)
                ]
                audited = [
                    request_ms(url, tmp, audited=True, requests=args.requests) for _ in range(args.runs)
                ]
                p, a = statistics.median(plain), statistics.median(audited)
                rows.append(
                    f"| {kind}: PATCH a tenant's quota, median ms | {a:.2f} | {p:.2f} | {a - p:+.2f} |"
                )
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            with migrated(kind, tmp) as url:
                db_s, mem_s = rotation_seconds(url, tmp, args.values)
                rows.append(
                    f"| {kind}: rotate {args.values} encrypted values, s | {db_s:.2f} | {mem_s:.2f} "
                    f"| {db_s - mem_s:+.2f} |"
                )
    section = "\n".join(
        [
            BEGIN,
            "## Audit log and key rotation",
            "",
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `benchmarks/audit_and_keys.py` "
            f"({args.requests} requests per run, median of {args.runs} runs; rotation: one run). "
            f"{os.cpu_count()} cores shared with other test sessions, Python {platform.python_version()}. "
            "In-process client (no network); the request compared with the same application without "
            "the audit middleware, the rotation with the same re-encryption in memory (Fernet alone). "
            f"Load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after: other engineers' test "
            "sessions ran meanwhile, so the figures are inflated. The audit entry is one more transaction "
            "(a lookup of the target's tenant, an insert, a commit) after the answer is complete.",
            "",
            "| what | provisioner | without audit / Fernet alone | difference |",
            "|---|---|---|---|",
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
