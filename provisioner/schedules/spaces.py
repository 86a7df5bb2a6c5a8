"""The spaces of a shared instance are backed up on its backup schedule (its own, else its template's
default), each alone into its association's own repository, as a dedicated instance of the association
would be. A service that cannot take one space's data apart has its spaces saved only by the shared
instance's own backup.

A scheduler holds each space's row while it looks for a backup of the space still waiting or running
and queues one: of two schedulers reaching the same space, the second sees the first one's job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.auth.actor import SYSTEM_ACTOR
from provisioner.catalog.loader import Catalog
from provisioner.catalog.sharing import shared_mode
from provisioner.config import Settings
from provisioner.errors import DomainError, NotFound
from provisioner.jobs.service import has_unfinished
from provisioner.jobs.states import JobKind
from provisioner.models import Instance, Space
from provisioner.spaces.backup_alerts import space_backup_failed
from provisioner.spaces.data import request_space_backup
from provisioner.spaces.states import SpaceState

log = logging.getLogger(__name__)

# Called with (tenant id, job id or space id, outcome) for the association's audit log.
Audit = Callable[[str, str, str], None]


def _separable(catalog: Catalog, template: str) -> bool:
    try:
        found = catalog.get(template)
        return shared_mode(found.sharing, found.name).data.separable
    except (NotFound, ValueError):
        return False  # its template left the catalog or no longer shares: nothing to take apart


def back_up_spaces(
    session: Session, settings: Settings, catalog: Catalog, *, instance: Instance, audit: Audit
) -> list[str]:
    """Queue a backup of each running space of ``instance``; the jobs' ids. A space whose backup cannot
    start (no backup target, say) alerts its association and the operators, and the others go on."""
    if not instance.shared or not _separable(catalog, instance.template):
        return []
    query = (
        select(Space)
        .where(Space.instance_id == instance.id, Space.state == SpaceState.RUNNING.value)
        .order_by(Space.id)
        .with_for_update(of=Space)
    )
    started = []
    for space in session.scalars(query).unique().all():
        if has_unfinished(session, kind=JobKind.SPACE_BACKUP, space_id=space.id):
            log.info("a backup of space %s is still waiting or running; not starting another", space.id)
            continue
        try:
            job = request_space_backup(session, actor=SYSTEM_ACTOR, catalog=catalog, space_id=space.id)
        except DomainError as exc:
            log.warning("the scheduled backup of space %s could not start: %s", space.id, exc.detail)
            audit(space.tenant_id, space.id, f"refused: {exc.detail}")
            summary = f"scheduled backup of {space.name} could not start: {exc.detail}"
            space_backup_failed(session, settings, space=space, summary=summary)
            continue
        audit(space.tenant_id, job.id, "success")
        started.append(job.id)
    return started
