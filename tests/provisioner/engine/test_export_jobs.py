"""Export jobs over the scripted runner: a fresh backup, then the archive made from it; the instance
runs on whatever becomes of the export, and a failed export says why and leaves nothing behind (the
real chain, restic's restore included, is in tests/e2e/test_backups_wordpress.py)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import select

from provisioner.catalog.exports import ExportPart
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.exports import making
from provisioner.exports.archive import RestoredPart
from provisioner.exports.sealed import opened
from provisioner.exports.service import request_export
from provisioner.instances.service import set_state
from provisioner.instances.states import InstanceState
from provisioner.models import Backup, Export, Instance
from provisioner.runner.scripted import ScriptedRunner, fails
from tests.support import factories
from tests.support.engine_lab import EngineLab, backup_reported

WXR = (
    '<?xml version="1.0"?><rss version="2.0"><channel><item><title>Sommerfest</title></item></channel></rss>'
)


def _restored(
    settings: Settings, backup: Backup, parts: list[ExportPart], *, into: Path
) -> list[RestoredPart]:
    """Stands in for restic's restore into the throwaway folder: a dump, one uploaded file and the
    site's posts in WordPress's export format."""
    (into / "content" / "uploads").mkdir(parents=True)
    (into / "content" / "uploads" / "flyer.pdf").write_bytes(b"%PDF Sommerfest")
    (into / "backup.sql").write_text("CREATE TABLE notes (id INT);\n")
    (into / "wordpress.xml").write_text(WXR)
    where = {"database": into / "backup.sql", "content": into / "content", "posts": into / "wordpress.xml"}
    return [RestoredPart(part=part, source=where[part.name]) for part in parts]


@pytest.fixture(autouse=True)
def _no_restic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(making, "restore_for_export", _restored)


def _asked(lab: EngineLab, instance_id: str) -> str:
    with transaction(lab.url) as session:
        owner = factories.admin_of(session.get_one(Instance, instance_id).tenant)
        return request_export(session, actor=owner, catalog=factories.CATALOG, instance_id=instance_id).job.id


def _export(lab: EngineLab, job_id: str) -> Export:
    with transaction(lab.url) as session:
        export = session.scalars(select(Export).where(Export.job_id == job_id)).one()
        session.expunge(export)
        return export


def _names(lab: EngineLab, export: Export) -> list[str]:
    with (lab.settings.resolved_exports_dir / str(export.file)).open("rb") as sealed:
        plain = b"".join(opened(sealed, [lab.settings.secret_key]))
    with tarfile.open(fileobj=io.BytesIO(plain), mode="r:gz") as tar:
        return [name.split("/", 1)[1] for name in tar.getnames()]


def test_an_export_takes_a_backup_and_makes_the_archive_from_it(lab: EngineLab) -> None:
    blog = lab.instance()
    job = _asked(lab, blog)

    runner = lab.run(job, ScriptedRunner(backup_reported()))

    assert runner.playbooks == ["backup.yml"]
    assert lab.ended(job) == ("succeeded", None, "running")
    export = _export(lab, job)
    assert export.state == "ready"
    with transaction(lab.url) as session:
        backup = session.scalars(select(Backup).where(Backup.job_id == job)).one()
    assert export.backup_id == backup.id
    assert sorted(_names(lab, export)) == [
        "README.txt",
        "SHA256SUMS",
        "blog/configuration.json",
        "blog/content/uploads/flyer.pdf",
        "blog/database.sql",
        "blog/posts.xml",
        "manifest.json",
    ]
    lines = lab.lines(job)
    assert any(line.startswith("making the export from the backup taken at ") for line in lines)
    assert "export ready: 0.0 MB" in lines


def test_a_service_without_data_exports_its_configuration_without_a_backup(lab: EngineLab) -> None:
    site = lab.instance(blog=False)
    job = _asked(lab, site)

    runner = lab.run(job)

    assert runner.playbooks == []
    assert lab.ended(job) == ("succeeded", None, "running")
    export = _export(lab, job)
    assert "site/configuration.json" in _names(lab, export)
    assert "no backup: the service keeps no data" in lab.lines(job)


def test_a_failed_backup_fails_the_export_and_the_instance_runs_on(lab: EngineLab) -> None:
    blog = lab.instance()
    job = _asked(lab, blog)

    lab.run(job, ScriptedRunner(fails("restic: repository is locked")))

    assert lab.ended(job) == ("failed", "the backup failed: restic: repository is locked", "running")
    export = _export(lab, job)
    assert (export.state, export.error) == ("failed", "the backup failed: restic: repository is locked")
    assert (
        not lab.settings.resolved_exports_dir.exists()
        or list(lab.settings.resolved_exports_dir.iterdir()) == []
    )


def test_a_service_that_stopped_running_before_its_turn_is_not_exported(lab: EngineLab) -> None:
    blog = lab.instance()
    job = _asked(lab, blog)
    with transaction(lab.url) as session:
        set_state(session.get_one(Instance, blog), InstanceState.FAILED, reason="disk broke")

    runner = lab.run(job)

    assert runner.playbooks == []
    assert lab.ended(job) == (
        "failed",
        "the service is failed; only a running service can be exported",
        "failed",
    )
    assert _export(lab, job).state == "failed"


def test_an_export_that_breaks_down_ends_failed_so_the_next_may_start(
    lab: EngineLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> list[RestoredPart]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(making, "restore_for_export", broken)
    blog = lab.instance()
    job = _asked(lab, blog)

    lab.run(job, ScriptedRunner(backup_reported()))

    ended = lab.ended(job)
    assert (ended.status, ended.state) == ("failed", "running")
    assert _export(lab, job).state == "failed"
    assert list(lab.settings.resolved_exports_dir.iterdir()) == []
    monkeypatch.setattr(making, "restore_for_export", _restored)
    again = _asked(lab, blog)
    lab.run(again, ScriptedRunner(backup_reported()))
    assert _export(lab, again).state == "ready"
