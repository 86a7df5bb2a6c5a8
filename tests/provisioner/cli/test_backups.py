"""``provisioner backups remove-target``: a target that holds repositories is kept, an empty one goes."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from provisioner.backups.repository import repository_for
from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.models import BackupTarget
from tests.support.cli import run_cli
from tests.support.factories import sftp_target, tenant


def test_a_target_holding_repositories_is_kept_an_empty_one_removed(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "db", "upgrade").returncode == 0
    settings = Settings(data_dir=tmp_path, database_url="")
    url = settings.resolved_database_url
    with session_factory(url)() as session:
        for name in ("holding", "spare"):
            sftp_target(session, settings, name)
        repository_for(session, settings, tenant_id=tenant(session).id)  # on "holding", the default
        session.commit()

    refused = run_cli(tmp_path, "backups", "remove-target", "holding")
    assert (refused.returncode, refused.stderr) == (
        2,
        "provisioner: backup target holding still holds the repositories of 1 association(s); "
        "their backups live there\n",
    )
    removed = run_cli(tmp_path, "backups", "remove-target", "spare")
    assert (removed.returncode, removed.stdout) == (0, "backup target spare removed\n")
    with session_factory(url)() as session:
        assert session.scalars(select(BackupTarget.name)).all() == ["holding"]
