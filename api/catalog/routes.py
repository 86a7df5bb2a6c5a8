from __future__ import annotations

from fastapi import APIRouter

from api.base_schemas import Page
from api.catalog import convert, schemas
from api.deps import ActorDep, CatalogDep, SessionDep
from provisioner.catalog.modes import allowed_modes, set_modes

router = APIRouter(prefix="/api/v1/catalog", tags=["catalog"])


@router.get("")
def list_catalog(_actor: ActorDep, catalog: CatalogDep, session: SessionDep) -> Page[schemas.TemplateOut]:
    """The services associations can request, with versions, parameters, resources and modes."""
    return Page(items=[convert.template(t, modes=list(allowed_modes(session, t))) for t in catalog.all()])


@router.get("/{name}")
def get_template(
    name: str, _actor: ActorDep, catalog: CatalogDep, session: SessionDep
) -> schemas.TemplateOut:
    """One service of the catalog."""
    found = catalog.get(name)
    return convert.template(found, modes=list(allowed_modes(session, found)))


@router.put("/{name}/modes")
def set_template_modes(
    name: str, body: schemas.ModesIn, actor: ActorDep, catalog: CatalogDep, session: SessionDep
) -> schemas.TemplateOut:
    """Which of the service's modes associations may request: a dedicated instance, a space in a shared
    instance, or both (operators). Requests already made are not touched."""
    found = catalog.get(name)
    modes = set_modes(session, actor=actor, template=found, modes=list(body.modes))
    session.commit()
    return convert.template(found, modes=list(modes))
