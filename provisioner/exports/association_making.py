"""Making the archive of a whole association: each exported service's backup restored into a throwaway
folder of its own, all of them written into one sealed archive with one manifest and one README, the
services left out listed with the reason. Free space is checked for all of them before anything is
restored, and nothing half-written is left when any of it fails (``write_sealed``).

The calling job takes each service's backup and decides which services are left out; this owns the
export's row and its files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, BinaryIO

from provisioner.catalog.loader import Catalog
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.exports.archive import Built, RestoredPart, Skipped, build_archive
from provisioner.exports.making import (
    check_free_space,
    export_parts,
    exports_folder,
    record_ready,
    service_export,
    write_sealed,
)
from provisioner.exports.restored import restore_for_export
from provisioner.exports.service import export_of_job
from provisioner.i18n import DEFAULT_LANGUAGE, known_language
from provisioner.models import Backup, Instance
from provisioner.timeutil import utcnow


@dataclass(frozen=True)
class Taken:
    """A service going into the archive, and the backup it is made from (None: it keeps no data)."""

    instance_id: str
    backup_id: str | None


def make_association_export(
    settings: Settings,
    catalog: Catalog,
    *,
    job_id: str,
    taken: list[Taken],
    skipped: list[Skipped],
    restore: Callable[..., list[RestoredPart]] | None = None,
) -> None:
    """Make the archive of the job's association export and record it ready, deleting the one before.
    Raises ``ExportFailed``."""
    folder = exports_folder(settings)
    with transaction(settings.resolved_database_url) as session:
        export = export_of_job(session, job_id=job_id)
        export_id, tenant = export.id, export.tenant
        language = known_language(tenant.language) or DEFAULT_LANGUAGE
        association = {"slug": tenant.slug, "name": tenant.name}
        root = f"{tenant.slug}-{utcnow():%Y-%m-%d}"
        planned = []
        for each in taken:
            instance = session.get_one(Instance, each.instance_id)
            backup = session.get_one(Backup, each.backup_id) if each.backup_id else None
            if backup is not None:
                session.expunge(backup)  # read after this session: its repository and target came joined
            planned.append(
                (service_export(settings, catalog, instance), export_parts(catalog, instance), backup)
            )
    check_free_space(settings, folder, sum(b.size_bytes or 0 for _, _, b in planned if b is not None))
    work = folder / f"work-{export_id}"
    restorer = restore or restore_for_export

    def write(out: BinaryIO) -> Built:
        services = [
            replace(
                service,
                parts=restorer(settings, backup, parts, into=work / str(n)) if backup and parts else [],
            )
            for n, (service, parts, backup) in enumerate(planned)
        ]
        return build_archive(
            out,
            root=root,
            association=association,
            services=services,
            language=language,
            created_at=utcnow().replace(microsecond=0),
            skipped=tuple(skipped),
        )

    built = write_sealed(settings, export_id, write, work=work)
    ids = {service.name: each.instance_id for (service, _, _), each in zip(planned, taken, strict=True)}
    record_ready(settings, export_id, built, services=summary(built.manifest, ids))


def summary(manifest: dict[str, Any], ids: dict[str, str]) -> list[dict[str, Any]]:
    """Each service as the export's row keeps it: exported (with its files' count and the SHA-256 of
    its lines in SHA256SUMS) or skipped with the reason."""
    kept: list[dict[str, Any]] = []
    for entry in manifest["services"]:
        row = {key: entry[key] for key in ("name", "template", "version", "state")}
        if entry["state"] == "skipped":
            row["reason"] = entry["reason"]
        else:
            row["instance"] = ids[entry["name"]]
            row["files"] = sum(1 for part in entry["parts"] for f in part["files"] if "sha256" in f)
            row["sha256"] = entry["sha256"]
        kept.append(row)
    return kept
