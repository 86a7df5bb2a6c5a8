"""``provisioner servers remove``: the API's refusal as one line, and the removal itself."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from provisioner.db import session_factory
from provisioner.models import AuditEntry, Server
from tests.support.cli import run_cli
from tests.support.factories import approved_homepage, server


def test_a_server_with_an_instance_is_kept_an_empty_one_removed(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "db", "upgrade").returncode == 0
    url = f"sqlite:///{tmp_path / 'provisioner.sqlite'}"
    approved_homepage(url)  # on s1
    with session_factory(url)() as session:
        empty = server(session, "s2").id
        session.commit()

    refused = run_cli(tmp_path, "servers", "remove", "s1")
    assert (refused.returncode, refused.stderr) == (
        2,
        "provisioner: server s1 still holds instance site; drain it or remove its instances first\n",
    )
    assert run_cli(tmp_path, "servers", "remove", "s3").returncode == 2
    removed = run_cli(tmp_path, "servers", "remove", "s2")
    assert (removed.returncode, removed.stdout) == (0, "server s2 removed\n")
    with session_factory(url)() as session:
        assert session.scalars(select(Server.name)).all() == ["s1"]
        assert session.scalars(select(AuditEntry.action).where(AuditEntry.target_id == empty)).all() == [
            "remove_server"
        ]
