"""A space's share of what its shared instance takes from the server.

Assumption: the shared instance's figures (measured, else its template's reservation) split evenly
between its live spaces. A space's own use inside the service is not measured apart; a busy space and a
quiet one get the same share. The lab states this beside the figure.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from provisioner.catalog.loader import Catalog
from provisioner.config import Settings
from provisioner.instances import footprint
from provisioner.models import Space
from provisioner.spaces.placement import live_spaces_in


@dataclass(frozen=True)
class SpaceShare:
    figures: footprint.Footprint
    spaces: int  # how many live spaces the shared instance's figures are split between


def space_share(session: Session, settings: Settings, catalog: Catalog, *, space: Space) -> SpaceShare | None:
    """None while the space is in no shared instance (waiting for approval, removed)."""
    instance = space.instance
    if instance is None or space.state in ("removed", "rejected"):
        return None
    whole = footprint.measured(session, settings, [instance]).get(instance.id) or footprint.reserved(
        catalog, instance
    )
    spaces = max(live_spaces_in(session, instance.id), 1)
    return SpaceShare(
        figures=footprint.Footprint(
            cpu=whole.cpu / spaces,
            memory_mb=whole.memory_mb / spaces,
            disk_gb=whole.disk_gb / spaces,
            measured=whole.measured,
            measured_at=whole.measured_at,
        ),
        spaces=spaces,
    )
