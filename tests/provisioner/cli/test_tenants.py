"""``provisioner tenants`` as an operator runs it: the API's rules for what is typed, JSON for scripts."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from provisioner.db import session_factory
from provisioner.models import AuditEntry
from tests.support.cli import run_cli


def test_create_list_and_show(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "db", "upgrade").returncode == 0
    made = run_cli(
        tmp_path, "tenants", "create", "--slug", "verein-a", "--name", "Verein A e.V.",
        "--contact-email", "vorstand@verein-a.example", "--json",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    tenant = json.loads(made.stdout)
    assert tenant["slug"] == "verein-a"
    assert tenant["quota"] == {"instances": None, "memory_mb": None, "disk_gb": None}

    listed = json.loads(run_cli(tmp_path, "tenants", "list", "--json").stdout)
    assert listed == [tenant]
    assert json.loads(run_cli(tmp_path, "tenants", "show", "verein-a", "--json").stdout) == tenant
    text = run_cli(tmp_path, "tenants", "show", tenant["id"]).stdout
    assert "Verein A e.V." in text
    assert "instances default" in text

    with session_factory(f"sqlite:///{tmp_path / 'provisioner.sqlite'}")() as session:
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.target_id == tenant["id"])).all()
    assert actions == ["create_tenant"]


def test_what_the_api_refuses_is_refused_here(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "db", "upgrade").returncode == 0
    bad = run_cli(
        tmp_path, "tenants", "create", "--slug", "Verein A", "--name", "x", "--contact-email", "a@b.example"
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("provisioner: --slug: String should match pattern")
    twice = [
        run_cli(tmp_path, "tenants", "create", "--slug", "v", "--name", "V", "--contact-email", "a@b.example")
        for _ in range(2)
    ]
    assert twice[0].returncode == 0
    assert (twice[1].returncode, twice[1].stderr) == (
        2,
        "provisioner: a tenant with the slug 'v' exists already\n",
    )
    missing = run_cli(tmp_path, "tenants", "show", "nobody")
    assert (missing.returncode, missing.stderr) == (2, "provisioner: tenant not found\n")
