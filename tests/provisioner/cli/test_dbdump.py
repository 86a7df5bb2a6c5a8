"""docs/disaster-recovery.md walked with the commands it gives, on SQLite and on PostgreSQL: a dump, a
fresh data folder, a restore with a wrong key (refused), with the key (the lab is back), and a second
restore over the restored lab (refused)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from provisioner.config import Settings
from provisioner.crypto import decrypt
from provisioner.db import session_factory
from provisioner.models import Instance, InstanceSecret, Job, JobEvent, Schedule
from provisioner.servers.sshkey import ensure_key
from tests.support.db import fresh_postgres
from tests.support.lab_rows import populate

PAGE = (Path(__file__).parents[3] / "docs" / "disaster-recovery.md").read_text()


def _provisioner(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # Every command the test runs is one the page tells the operator to run.
    assert f"provisioner {' '.join(a for a in args if not a.startswith('/'))}" in PAGE
    return subprocess.run(
        [sys.executable, "-m", "provisioner", *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def database_urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The lab's database before the disaster, and the empty one after it."""
    if request.param == "sqlite":
        yield "", ""
        return
    request.getfixturevalue("postgres")
    with fresh_postgres() as before, fresh_postgres() as after:
        yield before, after


def test_the_disaster_recovery_page_brings_the_lab_back(
    tmp_path: Path, database_urls: tuple[str, str]
) -> None:
    before_url, after_url = database_urls
    keys = tmp_path / "etc-provisioner"
    keys.mkdir()
    key_file = keys / "secret.key"
    key_file.write_text("the-key-the-lab-keeps-offline\n")
    key_file.chmod(0o600)
    old_data, new_data, offsite = tmp_path / "data", tmp_path / "new-data", tmp_path / "offsite"
    offsite.mkdir()
    old = Settings(data_dir=old_data, database_url=before_url, secret_key_file=key_file)
    instance_id = populate(old)
    public_key = ensure_key(old.resolved_ssh_key_path)
    base = {k: v for k, v in os.environ.items() if not k.startswith("PROVISIONER_")}
    env = base | {
        "PROVISIONER_DATA_DIR": str(old_data),
        "PROVISIONER_DATABASE_URL": before_url,
        "PROVISIONER_SECRET_KEY_FILE": str(key_file),
    }

    dump = offsite / "lab.dump"
    beside_key = _provisioner("db", "dump", str(keys / "lab.dump"), env=env)
    assert (beside_key.returncode, beside_key.stderr.count("\n")) == (1, 1)
    assert "beside the secret key" in beside_key.stderr
    made = _provisioner("db", "dump", str(dump), env=env)
    assert made.returncode == 0, made.stderr

    # The disaster: a new machine, a fresh data folder (and an empty PostgreSQL database).
    after = env | {"PROVISIONER_DATA_DIR": str(new_data), "PROVISIONER_DATABASE_URL": after_url}
    wrong_key = tmp_path / "wrong.key"
    wrong_key.write_text("some-other-key-not-the-labs")
    refused = _provisioner(
        "db", "restore", str(dump), env=after | {"PROVISIONER_SECRET_KEY_FILE": str(wrong_key)}
    )
    assert refused.returncode == 1
    assert refused.stderr.startswith("refused: the secret key does not open this dump")
    assert "Traceback" not in refused.stderr
    assert not (new_data / "ssh").exists()

    restored = _provisioner("db", "restore", str(dump), env=after)
    assert restored.returncode == 0, restored.stderr
    new = Settings(data_dir=new_data, database_url=after_url, secret_key_file=key_file)
    with session_factory(new.resolved_database_url)() as session:
        instance = session.get_one(Instance, instance_id)
        assert instance.name == "site"
        secrets = session.scalars(
            select(InstanceSecret).where(InstanceSecret.instance_id == instance_id)
        ).all()
        assert secrets
        assert all(decrypt(new, s.encrypted) for s in secrets)
        assert session.scalars(select(Schedule.cron)).all() == ["30 2 * * *"]
        assert session.scalar(select(func.count()).select_from(Job)) == 1
        assert session.scalar(select(func.count()).select_from(JobEvent)) == 2501
    # The servers know the control plane by its SSH key: it is back, private to its owner.
    assert new.resolved_ssh_key_path.read_text() == old.resolved_ssh_key_path.read_text()
    assert new.resolved_ssh_key_path.stat().st_mode & 0o777 == 0o600
    assert new.resolved_ssh_key_path.with_suffix(".pub").read_text().strip() == public_key

    again = _provisioner("db", "restore", str(dump), env=after)
    assert again.returncode == 1
    assert again.stderr.startswith("refused: the database already holds a lab")
