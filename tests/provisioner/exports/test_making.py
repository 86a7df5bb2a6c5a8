"""Making an export's archive: sealed at rest and whole, the service's archive before it deleted, and
nothing half-written left behind when the space is short, the disk fills or a file holds a secret.

The restore into the throwaway folder is stood in for by a copy of prepared folders here (restic's
real restore runs in the end-to-end export test).
"""

from __future__ import annotations

import errno
import io
import json
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from provisioner.backups.reported import backup_paths
from provisioner.backups.repository import repository_for
from provisioner.catalog.exports import ExportPart
from provisioner.config import Settings
from provisioner.crypto import decrypt
from provisioner.db import session_factory
from provisioner.exports import making, service
from provisioner.exports.archive import RestoredPart
from provisioner.exports.making import ExportFailed, make_export
from provisioner.exports.sealed import SealedWriter, opened
from provisioner.instances.credentials import store_secrets
from provisioner.models import Backup, Export, Instance
from tests.support import factories
from tests.support.running import running_blog, unused_backup_target


class Lab:
    def __init__(self, db_url: str, tmp_path: Path) -> None:
        self.settings = Settings(data_dir=tmp_path / "data", database_url=db_url)
        self.db_url = db_url
        self.source = tmp_path / "source"
        (self.source / "content" / "uploads").mkdir(parents=True)
        (self.source / "content" / "uploads" / "plakat.pdf").write_bytes(b"%PDF-1.4 Sommerfest")
        (self.source / "backup.sql").write_text("CREATE TABLE notes (id INT);\n")
        (self.source / "wordpress.xml").write_text("<rss><channel><title>Sommerfest</title></channel></rss>")
        with session_factory(db_url)() as session:
            owner = factories.tenant(session)
            owner.language = "en"
            server = factories.server(session)
            unused_backup_target(session, self.settings)
            instance = running_blog(session, owner, server)
            store_secrets(self.settings, instance, factories.CATALOG.get("wordpress"))
            repository = repository_for(session, self.settings, tenant_id=owner.id)
            backup = Backup(instance_id=instance.id, repository_id=repository.id, status="succeeded",
                            version="6.1", snapshot_id="a" * 64, size_bytes=1000,
                            paths=backup_paths(instance.id, ["db", "content", "wxr"]))  # fmt: skip
            session.add(backup)
            session.commit()
            self.tenant_id, self.instance_id, self.backup_id = owner.id, instance.id, backup.id
            self.secret = decrypt(self.settings, instance.secrets[0].encrypted)

    def ask(self) -> str:
        with session_factory(self.db_url)() as session:
            owner = factories.admin_of(session.get_one(Instance, self.instance_id).tenant)
            requested = service.request_export(
                session, actor=owner, catalog=factories.CATALOG, instance_id=self.instance_id
            )
            session.commit()
            return requested.job.id

    def restore(
        self, settings: Settings, backup: Backup, parts: list[ExportPart], *, into: Path
    ) -> list[RestoredPart]:
        """Stands in for the restic restore: the prepared folders copied into the throwaway folder."""
        assert backup.id == self.backup_id
        shutil.copytree(self.source, into / "restored")
        sources = {
            "database": into / "restored" / "backup.sql",
            "content": into / "restored" / "content",
            "posts": into / "restored" / "wordpress.xml",
        }
        return [RestoredPart(part=part, source=sources[part.name]) for part in parts]

    def make(self, job_id: str, **more: Any) -> None:
        make_export(self.settings, factories.CATALOG, job_id=job_id, backup_id=self.backup_id,
                    restore=self.restore, **more)  # fmt: skip

    def export(self, job_id: str) -> Export:
        with session_factory(self.db_url)() as session:
            found = session.scalar(select(Export).where(Export.job_id == job_id))
            assert found is not None
            session.expunge(found)
            return found

    def left(self) -> list[str]:
        return sorted(p.name for p in self.settings.resolved_exports_dir.iterdir())


@pytest.fixture
def lab(db_url: str, tmp_path: Path) -> Lab:
    return Lab(db_url, tmp_path)


def _unsealed(lab: Lab, export: Export) -> bytes:
    assert export.file is not None
    with (lab.settings.resolved_exports_dir / export.file).open("rb") as sealed:
        return b"".join(opened(sealed, [lab.settings.secret_key]))


def test_a_ready_archive_is_sealed_whole_and_replaces_the_one_before(lab: Lab) -> None:
    first = lab.ask()
    lab.make(first)
    before = lab.export(first)
    assert before.state == "ready"
    assert before.expires_at is not None
    assert before.finished_at is not None
    assert (before.expires_at - before.finished_at).total_seconds() == 72 * 3600
    plain = _unsealed(lab, before)
    assert len(plain) == before.size_bytes
    assert b"Sommerfest" not in (lab.settings.resolved_exports_dir / str(before.file)).read_bytes()
    with tarfile.open(fileobj=io.BytesIO(plain), mode="r:gz") as tar:
        names = tar.getnames()
        readme = tar.extractfile(next(n for n in names if n.endswith("README.txt")))
        assert readme is not None
        assert b"Export of the data of verein-a e.V." in readme.read()
    assert any(n.endswith("/blog/content/uploads/plakat.pdf") for n in names)
    assert any(n.endswith("/blog/database.sql") for n in names)
    assert any(n.endswith("/blog/posts.xml") for n in names)
    assert any(n.endswith("/blog/configuration.json") for n in names)

    second = lab.ask()
    lab.make(second)
    # One archive kept per service: the one before is deleted once the new one is there.
    assert lab.export(first).state == "replaced"
    assert lab.left() == [str(lab.export(second).file)]


def test_a_site_deployed_before_the_wxr_is_exported_saying_that_part_is_missing_and_why(lab: Lab) -> None:
    # Its server had no wxr volume: the backup left it out (the control plane recorded no place for it).
    with session_factory(lab.db_url)() as session:
        backup = session.get_one(Backup, lab.backup_id)
        backup.paths = backup_paths(lab.instance_id, ["db", "content"])
        session.commit()
    job = lab.ask()
    lab.make(job)
    export = lab.export(job)
    assert export.state == "ready"
    with tarfile.open(fileobj=io.BytesIO(_unsealed(lab, export)), mode="r:gz") as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile(next(n for n in names if n.endswith("manifest.json"))))  # type: ignore[arg-type]
        readme = tar.extractfile(next(n for n in names if n.endswith("README.txt"))).read().decode()  # type: ignore[union-attr]
    assert not any(n.endswith(".xml") for n in names)
    assert any(n.endswith("/blog/database.sql") for n in names)
    [posts] = [p for p in manifest["services"][0]["parts"] if p["name"] == "posts"]
    assert (posts["state"], posts["files"]) == ("missing", [])
    assert "set it up again (a redeploy, or its next update)" in posts["reason"]
    assert "WordPress's own export format (WXR" in readme
    assert "Not in this archive: the service was set up before the lab could export this part" in readme


def test_too_little_free_space_ends_it_before_anything_is_written(lab: Lab) -> None:
    job = lab.ask()
    lab.settings.export_min_free_mb = 10**9
    with pytest.raises(
        ExportFailed, match=r"not enough free space for the export: it needs \d+ MB, \d+ MB are free"
    ):
        lab.make(job)
    assert lab.left() == []


class _FillsUp(SealedWriter):
    """A disk that fills after a few segments."""

    written = 0

    def write(self, data: bytes) -> int:
        _FillsUp.written += len(data)
        if _FillsUp.written > 200:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(data)


def test_a_disk_filling_up_during_the_export_leaves_nothing_behind(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = lab.ask()
    _FillsUp.written = 0
    monkeypatch.setattr(making, "SealedWriter", _FillsUp)
    with pytest.raises(ExportFailed, match="the disk filled up during the export; nothing of it was kept"):
        lab.make(job)
    assert lab.left() == []  # neither the throwaway folder nor a part of the archive


def test_a_file_holding_a_secret_of_the_service_leaves_nothing_behind(lab: Lab) -> None:
    (lab.source / "content" / "uploads" / "config-copy.php").write_text(
        f"define('DB_PASSWORD', '{lab.secret}');"
    )
    job = lab.ask()
    with pytest.raises(ExportFailed, match=r"config-copy\.php holds one of the lab's secrets") as failed:
        lab.make(job)
    assert lab.secret not in str(failed.value)
    assert lab.left() == []
