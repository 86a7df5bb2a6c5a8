"""Templates of the catalog to response bodies."""

from __future__ import annotations

from api.catalog import schemas
from api.servers.schemas import Capacity
from provisioner.catalog.model import Template
from provisioner.catalog.sharing import offered_modes


def template(row: Template, *, modes: list[str] | None = None) -> schemas.TemplateOut:
    """``modes``: those the lab lets associations request (``spaces.modes.allowed_modes``)."""
    offered = list(offered_modes(row.sharing))
    why = row.sharing.dedicated_only if row.sharing is not None else None
    return schemas.TemplateOut(
        offered_modes=offered,
        modes=modes if modes is not None else ["dedicated"],
        name=row.name,
        title=schemas.Localized(de=row.title.de, en=row.title.en),
        description=schemas.Localized(de=row.description.de, en=row.description.en),
        category=row.category,
        icon=row.icon,
        versions=list(row.versions),
        default_version=row.default_version,
        parameters=row.parameters,
        resources=Capacity(**row.resources.model_dump()),
        dedicated_only=schemas.Localized(de=why.de, en=why.en) if why is not None else None,
    )
