"""Making an export's archive on the control plane: free space checked first, the backup restored into a
throwaway folder, the archive written sealed, and nothing half-written left behind when any of it fails.

The calling job owns the instance and the job's states; this owns the export's row and its files.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select

from provisioner.catalog.exports import ExportPart
from provisioner.catalog.loader import Catalog
from provisioner.config import Settings
from provisioner.crypto import decrypt
from provisioner.db import transaction
from provisioner.exports.archive import Built, RestoredPart, SecretInExport, ServiceExport, build_archive
from provisioner.exports.restored import RestoreFailed, restore_for_export
from provisioner.exports.sealed import SealedWriter
from provisioner.exports.service import drop_archive, export_of_job
from provisioner.i18n import DEFAULT_LANGUAGE, known_language
from provisioner.models import Backup, Export, Instance, Tenant
from provisioner.timeutil import utcnow

_MB = 1024 * 1024


class ExportFailed(Exception):
    """The export could not be made; the message is one line for people, without secrets."""


def sealed_name(export_id: str) -> str:
    return f"{export_id}.tar.gz.sealed"


def service_export(settings: Settings, catalog: Catalog, instance: Instance) -> ServiceExport:
    """What the archive says of a service before its parts are restored: its configuration without
    the lab's secrets, and those secrets, which no file of the archive may hold."""
    template = catalog.get(instance.template)
    return ServiceExport(
        name=instance.name,
        template=instance.template,
        version=instance.version,
        configuration={
            "service": instance.template,
            "version": instance.version,
            "software": template.versions[instance.version].images
            if instance.version in template.versions
            else {},
            "address": instance.url,
            "parameters": instance.parameters,
        },
        parts=[],
        secrets=[decrypt(settings, s.encrypted) for s in instance.secrets],
    )


def export_parts(catalog: Catalog, instance: Instance) -> list[ExportPart]:
    exports = catalog.get(instance.template).exports
    return exports.parts if exports else []


def held_parts(
    catalog: Catalog, instance: Instance, backup: Backup | None
) -> tuple[list[ExportPart], list[ExportPart]]:
    """The export's parts ``backup`` holds, and those it lacks: of an optional volume (one the template
    gained after the service was deployed) that the server did not have, so the backup left it out."""
    parts = export_parts(catalog, instance)
    hook = catalog.get(instance.template).hooks.backup
    if backup is None or hook is None:
        return parts, []
    lacking = set(hook.optional) - set(backup.paths)
    return [p for p in parts if p.volume not in lacking], [p for p in parts if p.volume in lacking]


def make_export(
    settings: Settings,
    catalog: Catalog,
    *,
    job_id: str,
    backup_id: str | None,
    restore: Callable[..., list[RestoredPart]] | None = None,
) -> None:
    """Make the archive of the job's export from ``backup_id`` (None: a service without data), record
    it as ready and delete the service's archive before it. Raises ``ExportFailed``."""
    with transaction(settings.resolved_database_url) as session:
        export = export_of_job(session, job_id=job_id)
        export.state = "running"
        export.backup_id = backup_id
        export_id = export.id
        instance = session.get_one(Instance, export.instance_id)
        backup = session.get_one(Backup, backup_id) if backup_id else None
        if backup is not None:
            session.expunge(backup)  # read after this session: its repository and target came joined
        parts, missing = held_parts(catalog, instance, backup)
        service = replace(service_export(settings, catalog, instance), missing=list(missing))
        made = Making.of(export_id, instance.tenant, instance.name)
    restorer = restore or restore_for_export

    def restored(work: Path) -> list[RestoredPart]:
        return restorer(settings, backup, parts, into=work) if backup is not None and parts else []

    seal_one(settings, made, service, restored, backed_up_bytes=backup.size_bytes or 0 if backup else 0)


@dataclass(frozen=True)
class Making:
    """An export being made: its row, the archive's top folder, the association as the archive names
    it, and the language its README is in."""

    export_id: str
    root: str
    association: dict[str, str]
    language: str

    @classmethod
    def of(cls, export_id: str, tenant: Tenant, name: str | None) -> Making:
        """Of one service or space named ``name``, or of the whole association (None)."""
        return cls(
            export_id=export_id,
            root="-".join([tenant.slug, *([name] if name else []), f"{utcnow():%Y-%m-%d}"]),
            association={"slug": tenant.slug, "name": tenant.name},
            language=known_language(tenant.language) or DEFAULT_LANGUAGE,
        )


def seal_one(
    settings: Settings,
    made: Making,
    service: ServiceExport,
    restored: Callable[[Path], list[RestoredPart]],
    *,
    backed_up_bytes: int,
) -> None:
    """The archive of one service (or space), its parts restored into the throwaway folder by
    ``restored``, sealed and recorded ready. Raises ``ExportFailed``."""
    folder = exports_folder(settings)
    check_free_space(settings, folder, backed_up_bytes)
    work = folder / f"work-{made.export_id}"

    def write(out: BinaryIO) -> Built:
        return build_archive(
            out,
            root=made.root,
            association=made.association,
            services=[replace(service, parts=restored(work))],
            language=made.language,
            created_at=utcnow(),
        )

    built = write_sealed(settings, made.export_id, write, work=work)
    record_ready(settings, made.export_id, built)


def exports_folder(settings: Settings) -> Path:
    folder = settings.resolved_exports_dir
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def write_sealed(
    settings: Settings, export_id: str, write: Callable[[BinaryIO], Built], *, work: Path
) -> Built:
    """The archive ``write`` makes, sealed into the exports folder under the export's name; on any
    failure nothing of it is left, and the throwaway folder ``work`` goes in every case."""
    folder = settings.resolved_exports_dir
    partial, final = folder / f"{export_id}.part", folder / sealed_name(export_id)
    try:
        with partial.open("wb") as out:
            sealer = SealedWriter(out, settings.secret_key)
            built = write(sealer)  # type: ignore[arg-type]
            sealer.close()
            os.fsync(out.fileno())
        os.replace(partial, final)
    except OSError as exc:
        final.unlink(missing_ok=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise ExportFailed("the disk filled up during the export; nothing of it was kept") from exc
        raise ExportFailed(f"the export could not be written: {exc.strerror or type(exc).__name__}") from exc
    except (RestoreFailed, SecretInExport) as exc:
        raise ExportFailed(str(exc)) from exc
    finally:
        partial.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)
    return built


def check_free_space(settings: Settings, folder: Path, backed_up_bytes: int) -> None:
    # The restored copy and the archive (no larger than what it holds) side by side, and a margin.
    need = 2 * backed_up_bytes + settings.export_min_free_mb * _MB
    free = shutil.disk_usage(folder).free
    if free < need:
        raise ExportFailed(
            f"not enough free space for the export: it needs {need // _MB} MB, {free // _MB} MB are free"
        )


def record_ready(
    settings: Settings, export_id: str, built: Built, *, services: list[dict[str, Any]] | None = None
) -> None:
    """The export is ready until it expires; the one before it of the same service (or space, or of the
    whole association) is deleted: one archive is kept of each."""
    with transaction(settings.resolved_database_url) as session:
        export = session.get_one(Export, export_id)
        now = utcnow()
        export.state, export.file = "ready", sealed_name(export_id)
        export.sha256, export.size_bytes = built.sha256, built.size_bytes
        export.services = services
        export.finished_at = now
        export.expires_at = now + timedelta(hours=settings.export_keep_hours)
        if export.instance_id is not None:
            same = Export.instance_id == export.instance_id
        elif export.space_id is not None:
            same = Export.space_id == export.space_id
        else:
            whole = Export.instance_id.is_(None) & Export.space_id.is_(None)
            same = whole & (Export.tenant_id == export.tenant_id)
        older = select(Export).where(same, Export.id != export.id, Export.state == "ready")
        for before in session.scalars(older):
            drop_archive(settings, before)
            before.state = "replaced"


def fail_export(settings: Settings, *, job_id: str, error: str) -> None:
    with transaction(settings.resolved_database_url) as session:
        export = export_of_job(session, job_id=job_id)
        export.state, export.error, export.finished_at = "failed", error, utcnow()
