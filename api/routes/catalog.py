from __future__ import annotations

from fastapi import APIRouter

from api import convert, schemas
from api.deps import ActorDep, CatalogDep

router = APIRouter(prefix="/api/v1/catalog", tags=["catalog"])


@router.get("")
def list_catalog(_actor: ActorDep, catalog: CatalogDep) -> schemas.Page[schemas.TemplateOut]:
    """The services associations can request, with versions, parameters and resources."""
    return schemas.Page(items=[convert.template(t) for t in catalog.all()])


@router.get("/{name}")
def get_template(name: str, _actor: ActorDep, catalog: CatalogDep) -> schemas.TemplateOut:
    """One service of the catalog."""
    return convert.template(catalog.get(name))
