"""An association's export over the scripted runner: a fresh backup of each running service (and of each
space whose service can take its data apart), one step per service, one archive holding every exported
service's folder and a manifest listing the ones left out with the reason; a failed backup fails the whole
export and leaves nothing behind (the real chain, restic's restore included, is in
tests/e2e/test_backups_wordpress.py)."""

from __future__ import annotations

import errno
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from provisioner.catalog.exports import ExportPart
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.exports import association_making, making
from provisioner.exports.archive import RestoredPart
from provisioner.exports.association import latest_backups_bytes, request_association_export
from provisioner.exports.sealed import SealedWriter
from provisioner.instances.service import set_state
from provisioner.instances.states import InstanceState
from provisioner.jobs.states import JobKind
from provisioner.models import Backup, Export, Instance, Job, Space, SpaceBackup, Tenant
from provisioner.runner.scripted import ScriptedRunner, fails, succeeds
from provisioner.runner.spec import RunSpec
from tests.support import factories
from tests.support.engine_lab import EngineLab, backup_reported
from tests.support.exports import unsealed
from tests.support.spaces import (
    approved_space,
    inseparable_space,
    offer_shared,
    requested_space,
    space_restored,
)

S = InstanceState


WXR = (
    '<?xml version="1.0"?><rss version="2.0"><channel><item><title>Sommerfest</title></item></channel></rss>'
)


def _restored(
    settings: Settings, backup: Backup, parts: list[ExportPart], *, into: Path
) -> list[RestoredPart]:
    """Stands in for restic's restore into the throwaway folder: a dump, one uploaded file and the
    site's posts in WordPress's export format."""
    (into / "content" / "uploads").mkdir(parents=True)
    (into / "content" / "uploads" / "flyer.pdf").write_bytes(
        b"%PDF Sommerfest " + backup.instance_id.encode()
    )
    (into / "backup.sql").write_text("CREATE TABLE notes (id INT);\n")
    (into / "wordpress.xml").write_text(WXR)
    where = {"database": into / "backup.sql", "content": into / "content", "posts": into / "wordpress.xml"}
    return [RestoredPart(part=part, source=where[part.name]) for part in parts]


@pytest.fixture(autouse=True)
def _no_restic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(association_making, "restore_for_export", _restored)


def _asked(lab: EngineLab) -> str:
    with transaction(lab.url) as session:
        owner = factories.admin_of(session.get_one(Tenant, lab.tenant_id))
        requested = request_association_export(
            session, actor=owner, catalog=factories.CATALOG, tenant_id=lab.tenant_id
        )
        return requested.job.id


def _export(lab: EngineLab, job_id: str) -> Export:
    with transaction(lab.url) as session:
        export = session.scalars(select(Export).where(Export.job_id == job_id)).one()
        session.expunge(export)
        return export


def _job(lab: EngineLab, job_id: str) -> tuple[str, str | None]:
    with transaction(lab.url) as session:
        job = session.get_one(Job, job_id)
        return job.status, job.error


def _states(lab: EngineLab, *ids: str) -> list[tuple[str, str | None]]:
    with transaction(lab.url) as session:
        return [(i.state, i.lock_job_id) for i in (session.get_one(Instance, n) for n in ids)]


def _unsealed(lab: EngineLab, export: Export) -> dict[str, bytes]:
    return unsealed(lab.settings, export)


def _left_in_exports(lab: EngineLab) -> list[str]:
    folder = lab.settings.resolved_exports_dir
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_every_running_service_goes_into_one_archive_and_the_others_are_listed_as_skipped(
    lab: EngineLab,
) -> None:
    blog, site = lab.instance(), lab.instance(blog=False)
    wiki = lab.instance(name="wiki")
    with transaction(lab.url) as session:
        set_state(session.get_one(Instance, wiki), S.FAILED, reason="disk broke")
    job = _asked(lab)

    runner = lab.run(job, ScriptedRunner(backup_reported()))

    assert runner.playbooks == ["backup.yml"]
    assert _job(lab, job) == ("succeeded", None)
    assert _states(lab, blog, site, wiki) == [("running", None), ("running", None), ("failed", None)]
    export = _export(lab, job)
    assert (export.state, export.instance_id) == ("ready", None)
    files = _unsealed(lab, export)
    assert sorted(files) == [
        "README.txt",
        "SHA256SUMS",
        "blog/configuration.json",
        "blog/content/uploads/flyer.pdf",
        "blog/database.sql",
        "blog/posts.xml",
        "manifest.json",
        "site/configuration.json",
    ]
    assert files["blog/content/uploads/flyer.pdf"] == b"%PDF Sommerfest " + blog.encode()
    manifest: dict[str, Any] = json.loads(files["manifest.json"])
    listed = {s["name"]: s for s in manifest["services"]}
    assert [(n, s["state"]) for n, s in listed.items()] == [
        ("blog", "exported"),
        ("site", "exported"),
        ("wiki", "skipped"),
    ]
    assert listed["wiki"]["reason"] == "the service is failed; only a running service is exported"
    # One value per service stands for its files: the SHA-256 of its lines in SHA256SUMS.
    blog_lines = [
        line for line in files["SHA256SUMS"].decode().splitlines() if line.split("  ")[1].startswith("blog/")
    ]
    assert listed["blog"]["sha256"] == hashlib.sha256(("\n".join(blog_lines) + "\n").encode()).hexdigest()
    assert export.services is not None
    assert [(s["name"], s["state"], s.get("instance"), s.get("files")) for s in export.services] == [
        ("blog", "exported", blog, 4),
        ("site", "exported", site, 1),
        ("wiki", "skipped", None, None),
    ]
    readme = files["README.txt"].decode()
    assert "Export der Daten von verein-a e.V." in readme  # the association's language: the lab's default
    assert "Nicht in diesem Archiv: „wiki“ (wordpress): der Dienst ist fehlgeschlagen" in readme
    lines = lab.lines(job)
    steps = [line for line in lines if line.startswith(("exporting the service", "left out"))]
    assert steps == [
        "exporting the service blog",
        "exporting the service site",
        "exporting the service wiki",
        "left out: the service is failed; only a running service is exported",
    ]
    assert "export ready: 0.0 MB" in lines


def test_a_failed_backup_fails_the_whole_export_and_leaves_nothing(lab: EngineLab) -> None:
    blog, other = lab.instance(), lab.instance(name="wiki")
    job = _asked(lab)

    lab.run(job, ScriptedRunner(backup_reported(), fails("restic: repository is locked")))

    error = "wiki: the backup failed: restic: repository is locked"
    assert _job(lab, job) == ("failed", error)
    assert (_export(lab, job).state, _export(lab, job).error) == ("failed", error)
    assert _states(lab, blog, other) == [("running", None), ("running", None)]
    assert _left_in_exports(lab) == []


def test_a_service_another_job_holds_is_left_out_and_keeps_its_lock(lab: EngineLab) -> None:
    blog, busy = lab.instance(), lab.instance(name="wiki")
    with transaction(lab.url) as session:
        session.get_one(Instance, busy).lock_job_id = "job_other"
    job = _asked(lab)

    lab.run(job, ScriptedRunner(backup_reported()))

    assert _job(lab, job) == ("succeeded", None)
    assert _states(lab, blog, busy) == [("running", None), ("running", "job_other")]
    services = _export(lab, job).services
    assert services is not None
    assert services[-1] == {
        "name": "wiki",
        "template": "wordpress",
        "version": services[-1]["version"],
        "state": "skipped",
        "reason": "another job was working on the service",
    }


def test_too_little_free_space_fails_before_anything_is_restored(
    lab: EngineLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab.instance()
    monkeypatch.setattr(lab.settings, "export_min_free_mb", 1 << 40)
    job = _asked(lab)

    runner = lab.run(job, ScriptedRunner(backup_reported()))

    assert runner.playbooks == []  # checked before any backup is taken
    status, error = _job(lab, job)
    assert status == "failed"
    assert str(error).startswith("not enough free space for the export")
    assert _left_in_exports(lab) == []


def test_a_disk_filling_up_while_the_second_service_is_written_leaves_nothing(
    lab: EngineLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The space checked before was taken by something else meanwhile: the write fails half-way through
    the archive, the export fails with the reason, and neither the part written nor either throwaway
    folder is left; the services run on, unlocked."""
    blog, wiki = lab.instance(), lab.instance(name="wiki")

    def big_restore(
        settings: Settings, backup: Backup, parts: list[ExportPart], *, into: Path
    ) -> list[RestoredPart]:
        restored = _restored(settings, backup, parts, into=into)
        if backup.instance_id == wiki:  # the second in the archive: its name comes after "blog"
            (into / "content" / "uploads" / "film.bin").write_bytes(os.urandom(1024 * 1024))
        return restored

    monkeypatch.setattr(association_making, "restore_for_export", big_restore)
    monkeypatch.setattr(making, "SealedWriter", _FillsUpAfterOneMegabyte)
    job = _asked(lab)

    lab.run(job, ScriptedRunner(backup_reported(), backup_reported()))

    error = "the disk filled up during the export; nothing of it was kept"
    assert _job(lab, job) == ("failed", error)
    assert (_export(lab, job).state, _export(lab, job).error, _export(lab, job).file) == (
        "failed",
        error,
        None,
    )
    assert _states(lab, blog, wiki) == [("running", None), ("running", None)]
    assert _left_in_exports(lab) == []


class _FillsUpAfterOneMegabyte(SealedWriter):
    """A disk with room for the first service's files and part of the second's."""

    def write(self, data: bytes) -> int:
        self.taken = getattr(self, "taken", 0) + len(data)
        if self.taken > 1024 * 1024:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(data)


def test_the_check_before_the_backups_counts_each_service_s_latest_backup(lab: EngineLab) -> None:
    blog, first = lab.backed_up()
    lab.run(lab.job(blog, JobKind.BACKUP), ScriptedRunner(backup_reported()))
    site = lab.instance(blog=False)
    with transaction(lab.url) as session:
        for backup in session.scalars(select(Backup).where(Backup.instance_id == blog)):
            backup.size_bytes = 10**12 if backup.id == first else 5
        assert latest_backups_bytes(session, instance_ids=[blog, site]) == 5


def test_the_next_association_export_replaces_the_one_before(lab: EngineLab) -> None:
    lab.instance(blog=False)
    first = _asked(lab)
    lab.run(first)
    second = _asked(lab)
    lab.run(second)

    before, now = _export(lab, first), _export(lab, second)
    assert (before.state, before.file, now.state) == ("replaced", None, "ready")
    assert _left_in_exports(lab) == [now.file]


def test_an_export_that_breaks_down_mid_backup_fails_that_service_as_its_own_export_would(
    lab: EngineLab,
) -> None:
    """The handler broken down inside a backup: the backup and the service half-way are failed (as the
    reaper settles a lost worker's job), the lock let go, the export failed, nothing left behind."""
    blog = lab.instance()
    job = _asked(lab)

    def broken(spec: RunSpec) -> None:
        raise RuntimeError("a bug")

    lab.run(job, ScriptedRunner(succeeds(during=broken)))

    status, error = _job(lab, job)
    assert (status, error) == (
        "failed",
        "the association_export broke down inside the control plane: RuntimeError",
    )
    assert _states(lab, blog) == [("failed", None)]
    with transaction(lab.url) as session:
        assert session.scalars(select(Backup.status).where(Backup.job_id == job)).all() == ["failed"]
    assert _export(lab, job).state == "failed"
    assert _left_in_exports(lab) == []


def _spaces(lab: EngineLab) -> tuple[str, str, str]:
    """The association's WordPress space running in the lab's shared instance, a Nextcloud space (whose
    data Nextcloud cannot take apart) and a space still waiting for approval."""
    with transaction(lab.url) as session:
        offer_shared(session)
        space, job = approved_space(session, lab.settings, session.get_one(Tenant, lab.tenant_id))
        space_id, job_id = space.id, job.id
    lab.run(job_id)
    with transaction(lab.url) as session:
        shared = session.get_one(Space, space_id).instance_id
        cloud = inseparable_space(session, tenant_id=lab.tenant_id, instance_id=shared)
        waiting = requested_space(session, session.get_one(Tenant, lab.tenant_id), "later")
        session.flush()
        return space_id, cloud.id, waiting.id


def test_each_separable_space_goes_in_from_its_own_backup_and_the_others_are_listed_with_why(
    lab: EngineLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(association_making, "restore_space_for_export", space_restored)
    blog = lab.instance()
    web, cloud, later = _spaces(lab)
    job = _asked(lab)

    runner = lab.run(job, ScriptedRunner(backup_reported(), backup_reported()))

    assert runner.playbooks == ["backup.yml", "space-data.yml"]
    assert (runner.ran[1].variables["action"], runner.ran[1].variables["in_snapshot"]) == (
        "backup",
        f"space-{web}",
    )
    assert _job(lab, job) == ("succeeded", None)
    with transaction(lab.url) as session:
        shared = session.get_one(Space, web).instance_id
        [backup] = session.scalars(select(SpaceBackup).where(SpaceBackup.space_id == web)).all()
        assert (backup.status, backup.job_id) == ("succeeded", job)
    assert _states(lab, blog, str(shared)) == [("running", None), ("running", None)]  # both locks let go
    export = _export(lab, job)
    files = _unsealed(lab, export)
    assert files["spaces/web/tables.sql"] == f"-- news of {web}\n".encode()
    assert files["spaces/web/uploads/2026/11/flyer.bin"] == f"flyer of {web}".encode()
    assert "blog/database.sql" in files
    listed = [(s["name"], s["state"], s.get("space")) for s in json.loads(files["manifest.json"])["services"]]
    assert listed == [
        ("blog", "exported", None),
        ("web", "exported", True),
        ("cloud", "skipped", True),
        ("later", "skipped", True),
    ]
    assert export.services is not None
    rows = {s["name"]: s for s in export.services}
    assert (rows["web"]["kind"], rows["web"]["space"], rows["web"]["files"]) == ("space", web, 4)
    nextcloud = factories.CATALOG.get("nextcloud").sharing
    assert nextcloud is not None
    assert nextcloud.shared is not None
    assert nextcloud.shared.data.restore is not None
    words = nextcloud.shared.data.restore
    assert rows["cloud"]["reason"] == (
        "a space in the lab's shared service, which cannot take one space's data apart from the others': "
        + words.en
    )
    assert rows["later"]["reason"] == "the space is requested; only a running space is exported"
    readme = files["README.txt"].decode()
    assert "Bereich „web“ im gemeinsam genutzten wordpress des Labs" in readme
    assert (
        "Nicht in diesem Archiv: „cloud“ (nextcloud): ein Bereich in einem gemeinsam genutzten Dienst"
        in readme
    )
    assert words.de in readme  # the template's own words, in the association's language
    assert "„later“ (wordpress): der Bereich hat den Zustand „wartet auf Freigabe“" in readme
    steps = [line for line in lab.lines(job) if line.startswith(("exporting the space", "left out"))]
    assert steps[:2] == ["exporting the space cloud", f"left out: {rows['cloud']['reason']}"]
    with transaction(lab.url) as session:  # the spaces left out are as they were
        assert [session.get_one(Space, i).state for i in (cloud, later)] == ["running", "requested"]


def test_a_failed_space_backup_fails_the_whole_export_and_lets_the_shared_instance_go(
    lab: EngineLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(association_making, "restore_space_for_export", space_restored)
    web, _, _ = _spaces(lab)
    job = _asked(lab)

    lab.run(job, ScriptedRunner(fails("the space's export exited 1: mariadb-dump failed")))

    status, error = _job(lab, job)
    assert status == "failed"
    assert error == "web: the space's backup failed: the space's export exited 1: mariadb-dump failed"
    assert _export(lab, job).state == "failed"
    with transaction(lab.url) as session:
        space = session.get_one(Space, web)
        assert (space.state, space.instance.lock_job_id) == ("running", None)  # type: ignore[union-attr]
    assert _left_in_exports(lab) == []


def test_an_export_that_breaks_down_mid_space_backup_fails_that_backup_and_the_space_runs_on(
    lab: EngineLab,
) -> None:
    web, _, _ = _spaces(lab)
    job = _asked(lab)

    def broken(spec: RunSpec) -> None:
        raise RuntimeError("a bug")

    lab.run(job, ScriptedRunner(succeeds(during=broken)))

    assert _job(lab, job)[0] == "failed"
    with transaction(lab.url) as session:
        begun = select(SpaceBackup.status).where(SpaceBackup.job_id == job)
        assert session.scalars(begun).all() == ["failed"]
        space = session.get_one(Space, web)
        assert (space.state, space.instance.lock_job_id) == ("running", None)  # type: ignore[union-attr]
    assert _export(lab, job).state == "failed"
