"""``provisioner offboarding`` as an operator runs it: an admin's request shown, its backups marked to
go at once, canceled while it waits; a start with the slug typed again; the deletion records listed
and printed as the certificate (English or German) or JSON; each change in the audit log."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.models import AuditEntry
from provisioner.offboarding.service import request_offboarding
from tests.support import factories
from tests.support.cli import run_cli
from tests.support.offboarding import offboarded_record


def test_an_operator_follows_cancels_and_starts_an_offboarding(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "db", "upgrade").returncode == 0
    with session_factory(f"sqlite:///{tmp_path / 'provisioner.sqlite'}")() as session:
        tenant = factories.tenant(session, "verein-a")
        tenant_id = tenant.id
        request_offboarding(
            session, Settings(data_dir=tmp_path), actor=factories.admin_of(tenant), tenant_id=tenant_id,
            confirm_slug="verein-a", delete_backups_now=False,
        )  # fmt: skip
        session.commit()

    shown = json.loads(run_cli(tmp_path, "offboarding", "show", "verein-a", "--json").stdout)
    assert (shown["state"], shown["jobs"], shown["delete_backups_now"]) == ("waiting", [], False)
    assert shown["not_before"] > shown["requested_at"]  # the admin's waiting period
    now = run_cli(tmp_path, "offboarding", "delete-backups-now", tenant_id, "--json")
    assert json.loads(now.stdout)["delete_backups_now"] is True
    canceled = run_cli(tmp_path, "offboarding", "cancel", "verein-a")
    assert "state               canceled" in canceled.stdout

    wrong = run_cli(tmp_path, "offboarding", "start", "verein-a", "--confirm", "verein")
    assert (wrong.returncode, wrong.stderr) == (
        2,
        "provisioner: type the association's short name to confirm: everything it has here is deleted\n",
    )
    started = run_cli(tmp_path, "offboarding", "start", "verein-a", "--confirm", "verein-a", "--json")
    assert started.returncode == 0, started.stderr
    assert len(json.loads(started.stdout)["jobs"]) == 1
    again = run_cli(tmp_path, "offboarding", "cancel", "verein-a")  # an operator's one started at once
    assert again.returncode == 0, again.stderr  # its job finds it canceled and does nothing
    early = run_cli(tmp_path, "offboarding", "record", "verein-a")
    assert (early.returncode, early.stderr) == (
        2,
        "provisioner: the offboarding of this tenant is canceled; its record is written when done\n",
    )
    with session_factory(f"sqlite:///{tmp_path / 'provisioner.sqlite'}")() as session:
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.target_id == tenant_id)).all()
    assert sorted(actions) == [
        "cancel_offboarding",
        "cancel_offboarding",
        "delete_offboarded_backups_now",
        "offboard_tenant",
    ]


def test_the_deletion_records_are_listed_and_printed_as_the_certificate(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "db", "upgrade").returncode == 0
    with session_factory(f"sqlite:///{tmp_path / 'provisioner.sqlite'}")() as session:
        gone = offboarded_record(session).tenant_id
        session.commit()
    listed = run_cli(tmp_path, "offboarding", "records")
    assert f"{gone:<22} verein-alt" in listed.stdout
    assert [
        r["tenant"] for r in json.loads(run_cli(tmp_path, "offboarding", "records", "--json").stdout)
    ] == [gone]
    # By its slug, though the association's row is gone.
    english = run_cli(tmp_path, "offboarding", "record", "verein-alt").stdout
    assert english.startswith("Deletion record: Verein Alt e.V.\n")
    assert "ab" * 32 in english
    german = run_cli(tmp_path, "offboarding", "record", gone, "--language", "de").stdout
    assert german.startswith("Löschnachweis: Verein Alt e.V.\n")
    document = json.loads(run_cli(tmp_path, "offboarding", "record", gone, "--json").stdout)
    assert (document["tenant"], document["accounts"], document["final_export"][0]["sha256"]) == (
        gone,
        2,
        "ab" * 32,
    )
    missing = run_cli(tmp_path, "offboarding", "show", "nobody")
    assert (missing.returncode, missing.stderr) == (
        2,
        "provisioner: no association and no offboarding called 'nobody'\n",
    )
