"""The building blocks every part of a template's schema shares."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,30}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Localized(Strict):
    de: str = Field(min_length=1)
    en: str = Field(min_length=1)
