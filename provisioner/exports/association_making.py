"""Making the archive of a whole association: each exported service's (and space's) backup restored
into a throwaway folder of its own, all of them written into one sealed archive with one manifest and
one README, the services left out listed with the reason. Free space is checked for all of them
before anything is restored, and nothing half-written is left when any of it fails (``write_sealed``).

The calling job takes each service's backup and decides which services are left out; this owns the
export's row and its files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

from provisioner.catalog.exports import ExportPart, Part
from provisioner.catalog.loader import Catalog
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.exports.archive import Built, RestoredPart, ServiceExport, Skipped, build_archive
from provisioner.exports.making import (
    Making,
    check_free_space,
    exports_folder,
    held_parts,
    record_ready,
    service_export,
    write_sealed,
)
from provisioner.exports.restored import restore_for_export, restore_space_for_export
from provisioner.exports.service import export_of_job
from provisioner.exports.space_making import space_export, space_parts
from provisioner.models import Backup, Instance, Space, SpaceBackup
from provisioner.timeutil import utcnow


@dataclass(frozen=True)
class Taken:
    """A service going into the archive, and the backup it is made from (None: it keeps no data)."""

    instance_id: str
    backup_id: str | None


@dataclass(frozen=True)
class TakenSpace:
    """A space going into the archive, and the space's backup it is made from."""

    space_id: str
    backup_id: str


@dataclass(frozen=True)
class _Planned:
    service: ServiceExport
    # Its parts restored into the folder given, and the backup's size.
    restore: Callable[[Path], list[RestoredPart]]
    size: int
    # What the manifest's row of it names: ("instance", id) or ("space", id).
    subject: tuple[str, str]


def make_association_export(
    settings: Settings,
    catalog: Catalog,
    *,
    job_id: str,
    taken: list[Taken],
    skipped: list[Skipped],
    spaces: list[TakenSpace] | None = None,
) -> None:
    """Make the archive of the job's association export and record it ready, deleting the one before.
    Raises ``ExportFailed``."""
    folder = exports_folder(settings)
    with transaction(settings.resolved_database_url) as session:
        export = export_of_job(session, job_id=job_id)
        export_id = export.id
        made = Making.of(export_id, export.tenant, None)
        planned = []
        for each in taken:
            instance = session.get_one(Instance, each.instance_id)
            backup = session.get_one(Backup, each.backup_id) if each.backup_id else None
            if backup is not None:
                session.expunge(backup)  # read after this session: its repository and target came joined
            held, missing = held_parts(catalog, instance, backup)
            service = replace(service_export(settings, catalog, instance), missing=list(missing))
            planned.append(
                _Planned(
                    service,
                    _restorer(settings, backup, held),
                    backup.size_bytes or 0 if backup is not None else 0,
                    ("instance", instance.id),
                )
            )
        for one in spaces or []:
            space = session.get_one(Space, one.space_id)
            space_backup = session.get_one(SpaceBackup, one.backup_id)
            session.expunge(space_backup)  # read after this session: its repository came joined
            parts = space_parts(catalog, space)
            planned.append(
                _Planned(
                    space_export(settings, catalog, space),
                    _space_restorer(settings, space_backup, parts),
                    space_backup.size_bytes or 0,
                    ("space", space.id),
                )
            )
    check_free_space(settings, folder, sum(p.size for p in planned))
    work = folder / f"work-{export_id}"

    def write(out: BinaryIO) -> Built:
        services = [replace(p.service, parts=p.restore(work / str(n))) for n, p in enumerate(planned)]
        return build_archive(
            out,
            root=made.root,
            association=made.association,
            services=services,
            language=made.language,
            created_at=utcnow().replace(microsecond=0),
            skipped=tuple(skipped),
        )

    built = write_sealed(settings, export_id, write, work=work)
    record_ready(settings, export_id, built, services=summary(built.manifest, [p.subject for p in planned]))


def _restorer(
    settings: Settings, backup: Backup | None, parts: list[ExportPart]
) -> Callable[[Path], list[RestoredPart]]:
    def restored(into: Path) -> list[RestoredPart]:
        return restore_for_export(settings, backup, parts, into=into) if backup is not None and parts else []

    return restored


def _space_restorer(
    settings: Settings, backup: SpaceBackup, parts: list[Part]
) -> Callable[[Path], list[RestoredPart]]:
    return lambda into: restore_space_for_export(settings, backup, parts, into=into)


def summary(manifest: dict[str, Any], subjects: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Each service (and space) as the export's row keeps it: exported (its instance or space, its
    files' count and the SHA-256 of its lines in SHA256SUMS) or skipped with the reason. ``subjects``
    name the exported ones, in the manifest's order."""
    kept: list[dict[str, Any]] = []
    named = iter(subjects)
    for entry in manifest["services"]:
        row = {key: entry[key] for key in ("name", "template", "version", "state")}
        if entry["state"] == "skipped":
            row["reason"] = entry["reason"]
        else:
            kind, subject_id = next(named)
            row[kind] = subject_id
            row["files"] = sum(1 for part in entry["parts"] for f in part["files"] if "sha256" in f)
            row["sha256"] = entry["sha256"]
        if entry.get("space"):
            row["kind"] = "space"
        kept.append(row)
    return kept
