"""Bodies of the catalog endpoints."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from api.base_schemas import Input
from api.servers.schemas import Capacity


class Localized(BaseModel):
    de: str
    en: str


class TemplateOut(BaseModel):
    name: str
    title: Localized
    description: Localized
    category: str
    icon: str
    versions: list[str]
    default_version: str
    parameters: dict[str, Any]
    resources: Capacity
    offered_modes: list[str] = Field(
        default=["dedicated"], description="dedicated, shared: the ways the service can be run"
    )
    modes: list[str] = Field(
        default=["dedicated"], description="the modes the lab lets associations request (operators choose)"
    )
    dedicated_only: Localized | None = Field(
        default=None, description="why the service is offered as a dedicated instance only, where it says so"
    )


class ModesIn(Input):
    modes: list[Literal["dedicated", "shared"]] = Field(min_length=1, max_length=2)
