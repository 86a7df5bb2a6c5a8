"""What every domain's request and response bodies share: inputs refuse unknown fields and NUL characters,
and lists come in pages."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, field_validator

T = TypeVar("T")


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # No field means a NUL character, and PostgreSQL cannot store one: refuse it as the field's fault.
        # (Template parameters are checked with the template's schema, naming each nested field.)
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class Page(BaseModel, Generic[T]):
    items: list[T]
    next: str | None = None
