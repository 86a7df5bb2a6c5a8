"""Making the archive of one space: its backup (the folder the service's export command wrote, kept by
restic) restored into a throwaway folder, and the parts the template names in it written into one
sealed archive, as a service's export is (``provisioner.exports.making``).

The archive lists the space as its one service, marked a space; its configuration says the space's
address, and no file of it may hold the shared instance's secrets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from provisioner.catalog.exports import Part
from provisioner.catalog.loader import Catalog
from provisioner.catalog.sharing import shared_mode
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.exports.archive import RestoredPart, ServiceExport
from provisioner.exports.making import Making, seal_one, service_export
from provisioner.exports.restored import restore_space_for_export
from provisioner.exports.service import export_of_job
from provisioner.models import Space, SpaceBackup


def space_export(settings: Settings, catalog: Catalog, space: Space) -> ServiceExport:
    """What the archive says of a space: its service, the shared instance's version and software, the
    space's own address (the shared instance's parameters are the lab's, not the association's)."""
    assert space.instance is not None  # noqa: S101 - a space is exported while it runs, placed
    shared = service_export(settings, catalog, space.instance)
    configuration = {**shared.configuration, "address": space.url, "parameters": {}, "space": True}
    return replace(shared, name=space.name, configuration=configuration, space=True)


def space_parts(catalog: Catalog, space: Space) -> list[Part]:
    template = catalog.get(space.template)
    return list(shared_mode(template.sharing, template.name).data.parts)


def make_space_export(
    settings: Settings,
    catalog: Catalog,
    *,
    job_id: str,
    backup_id: str,
    restore: Callable[..., list[RestoredPart]] | None = None,
) -> None:
    """Make the archive of the job's space export from the space's backup ``backup_id``, record it as
    ready and delete the space's archive before it. Raises ``ExportFailed``."""
    with transaction(settings.resolved_database_url) as session:
        export = export_of_job(session, job_id=job_id)
        export.state, export.backup_id = "running", backup_id
        space = session.get_one(Space, export.space_id)
        backup = session.get_one(SpaceBackup, backup_id)
        session.expunge(backup)  # read after this session: its repository and target came joined
        service, parts = space_export(settings, catalog, space), space_parts(catalog, space)
        made = Making.of(export.id, space.tenant, space.name)
    restorer = restore or restore_space_for_export

    def restored(work: Path) -> list[RestoredPart]:
        return restorer(settings, backup, parts, into=work)

    seal_one(settings, made, service, restored, backed_up_bytes=backup.size_bytes or 0)
