"""The control plane's dump and restore on SQLite and PostgreSQL, and across the two: every row back,
secrets opened by the lab's key only, and nothing written when the key is wrong or the target is taken."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import DBAPIError

from provisioner.audit.log import record_cli
from provisioner.config import Settings
from provisioner.crypto import decrypt
from provisioner.db import Base, session_factory
from provisioner.dbdump.dump import DumpRefused, dump_database
from provisioner.dbdump.fileformat import DumpUnreadable
from provisioner.dbdump.restore import RestoreRefused, restore_database
from provisioner.models import AuditEntry, InstanceSecret, JobEvent
from provisioner.servers.sshkey import ensure_key
from provisioner.timeutil import utcnow
from tests.support import factories
from tests.support.db import fresh_postgres
from tests.support.lab_rows import populate

KEY = "the-lab-secret-key-kept-offline"


def every_row(url: str) -> dict[str, list[tuple[Any, ...]]]:
    with session_factory(url)() as session:
        return {
            table.name: [
                tuple(r) for r in session.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in Base.metadata.sorted_tables
        }


@pytest.fixture(params=["sqlite", "postgresql"])
def target_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def empty_target(target_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Settings]:
    """A fresh data folder (and, for PostgreSQL, a new empty database): the lab after its disaster."""
    folder = tmp_path / "fresh-data"
    if target_kind == "sqlite":
        yield Settings(data_dir=folder, secret_key=KEY)
        return
    request.getfixturevalue("postgres")
    with fresh_postgres() as url:
        yield Settings(data_dir=folder, database_url=url, secret_key=KEY)


def test_a_dump_restores_every_row_into_a_fresh_database_of_either_kind(
    db_url: str, empty_target: Settings, tmp_path: Path
) -> None:
    source = Settings(data_dir=tmp_path / "data", database_url=db_url, secret_key=KEY)
    instance_id = populate(source)
    dump = tmp_path / "offsite" / "lab.dump"
    dump.parent.mkdir()
    result = dump_database(source, path=dump)
    assert result.tables == len(Base.metadata.tables)
    assert dump.stat().st_mode & 0o777 == 0o600
    plain = gzip.decompress(dump.read_bytes()).decode()
    assert "smtp-password-1" not in plain  # encrypted values stay encrypted

    restored = restore_database(empty_target, path=dump)
    assert restored.rows == result.rows
    url = empty_target.resolved_database_url
    assert every_row(url) == every_row(db_url)
    with session_factory(url)() as session:
        secrets = session.scalars(
            select(InstanceSecret).where(InstanceSecret.instance_id == instance_id)
        ).all()
        assert secrets
        assert all(decrypt(empty_target, s.encrypted) for s in secrets)
        # New rows continue after the restored ids (PostgreSQL's counters are moved past them).
        session.execute(
            insert(JobEvent),
            [{"job_id": session.scalar(select(JobEvent.job_id)), "seq": 9999, "created_at": utcnow(),
              "status": "ok", "line": "after the restore", "stdout": ""}],
        )  # fmt: skip
        session.commit()
        assert session.scalar(select(func.count()).select_from(JobEvent)) == 2502


def test_a_wrong_key_is_refused_before_anything_is_written(db_url: str, tmp_path: Path) -> None:
    source = Settings(data_dir=tmp_path / "data", database_url=db_url, secret_key=KEY)
    populate(source)
    dump = tmp_path / "lab.dump"
    dump_database(source, path=dump)
    other_lab = tmp_path / "other"
    wrong = Settings(data_dir=other_lab, secret_key="not-the-key-of-that-lab")
    with pytest.raises(RestoreRefused, match="secret key does not open"):
        restore_database(wrong, path=dump)
    assert not (other_lab / "provisioner.sqlite").exists()
    # Over a lab with --replace too: the lab there stays as it was.
    before = every_row(db_url)
    with pytest.raises(RestoreRefused, match="nothing was written"):
        restore_database(
            Settings(data_dir=tmp_path, database_url=db_url, secret_key="not-the-key-of-that-lab"),
            path=dump,
            replace=True,
        )
    assert every_row(db_url) == before


def test_a_database_holding_a_lab_is_replaced_only_when_asked(db_url: str, tmp_path: Path) -> None:
    source = Settings(data_dir=tmp_path / "a", secret_key=KEY)
    populate(source)
    dump = tmp_path / "lab.dump"
    dump_database(source, path=dump)
    target = Settings(data_dir=tmp_path / "b", database_url=db_url, secret_key=KEY)
    with session_factory(db_url)() as session:
        factories.tenant(session, slug="schon-da")
        record_cli(session, "tenant.create")  # the audit log refuses deletes: a replace must still go
        session.commit()
    before = every_row(db_url)
    with pytest.raises(RestoreRefused, match=r"already holds a lab.*--replace"):
        restore_database(target, path=dump)
    assert every_row(db_url) == before
    restore_database(target, path=dump, replace=True)
    assert every_row(db_url) == every_row(source.resolved_database_url)
    # The audit log refuses deletes again once the replacement is done.
    with session_factory(db_url)() as session:
        record_cli(session, "lab.restore")
        session.commit()
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(delete(AuditEntry))


def test_a_cut_off_or_foreign_file_is_refused(tmp_path: Path) -> None:
    source = Settings(data_dir=tmp_path / "a", secret_key=KEY)
    populate(source)
    dump = tmp_path / "lab.dump"
    dump_database(source, path=dump)
    lines = gzip.decompress(dump.read_bytes()).splitlines(keepends=True)
    cut = tmp_path / "cut.dump"
    cut.write_bytes(gzip.compress(b"".join(lines[:-1])))
    target = Settings(data_dir=tmp_path / "b", secret_key=KEY)
    with pytest.raises(DumpUnreadable, match="cut off"):
        restore_database(target, path=cut)
    foreign = tmp_path / "foreign.dump"
    foreign.write_bytes(b"SQLite format 3\x00")
    with pytest.raises(DumpUnreadable, match="not a readable dump"):
        restore_database(target, path=foreign)
    assert not (tmp_path / "b" / "provisioner.sqlite").exists()


def test_a_dump_is_never_written_beside_the_key_or_over_a_file(tmp_path: Path) -> None:
    keys = tmp_path / "etc"
    keys.mkdir()
    (keys / "secret.key").write_text(KEY)
    settings = Settings(data_dir=tmp_path / "data", secret_key_file=keys / "secret.key")
    populate(settings)
    with pytest.raises(DumpRefused, match="beside the secret key"):
        dump_database(settings, path=keys / "lab.dump")
    (tmp_path / "lab.dump").write_text("older")
    with pytest.raises(DumpRefused, match="exists already"):
        dump_database(settings, path=tmp_path / "lab.dump")
    assert (tmp_path / "lab.dump").read_text() == "older"


def test_another_ssh_key_in_the_new_data_folder_is_replaced_only_when_asked(tmp_path: Path) -> None:
    source = Settings(data_dir=tmp_path / "a", secret_key=KEY)
    populate(source)
    ensure_key(source.resolved_ssh_key_path)
    dump = tmp_path / "lab.dump"
    dump_database(source, path=dump)
    target = Settings(data_dir=tmp_path / "b", secret_key=KEY)
    ensure_key(target.resolved_ssh_key_path)  # a new machine's own key, which no server knows
    with pytest.raises(RestoreRefused, match="another SSH key"):
        restore_database(target, path=dump)
    assert not (tmp_path / "b" / "provisioner.sqlite").exists()
    restore_database(target, path=dump, replace=True)
    assert target.resolved_ssh_key_path.read_text() == source.resolved_ssh_key_path.read_text()
