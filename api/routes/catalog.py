from __future__ import annotations

from fastapi import APIRouter

from api import convert, schemas
from api.deps import ActorDep, CatalogDep

router = APIRouter(prefix="/api/v1/catalog", tags=["catalog"])


@router.get("")
def list_catalog(_actor: ActorDep, catalog: CatalogDep) -> schemas.Page[schemas.TemplateOut]:
    return schemas.Page(items=[convert.template(t) for t in catalog.all()])


@router.get("/{name}")
def get_template(name: str, _actor: ActorDep, catalog: CatalogDep) -> schemas.TemplateOut:
    return convert.template(catalog.get(name))
