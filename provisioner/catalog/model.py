"""What a service template folder declares. ``service_templates/README.md`` documents the format."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,30}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Localized(Strict):
    de: str
    en: str


class Version(Strict):
    images: dict[str, str]


class Resources(Strict):
    cpu: float = Field(gt=0)
    memory_mb: int = Field(gt=0)
    disk_gb: int = Field(gt=0)


class Container(Strict):
    name: str = Field(pattern=NAME_PATTERN)
    image: str  # a key of the version's images
    # The container port published on the server; at most one per template for now.
    port: int | None = Field(default=None, ge=1, le=65535)
    volumes: dict[str, str] = Field(default_factory=dict)  # volume name -> mount path
    # Rendered file folders mounted read-only: folder name under the instance dir -> mount path.
    files: dict[str, str] = Field(default_factory=dict)
    environment: dict[str, str] = Field(default_factory=dict)
    memory_mb: int = Field(gt=0)
    cpu: float = Field(gt=0)


class RenderedFile(Strict):
    source: str  # Jinja2 file inside the template folder
    target: str  # relative path under the instance dir on the server

    @field_validator("target")
    @classmethod
    def _relative(cls, value: str) -> str:
        if value.startswith("/") or ".." in Path(value).parts:
            raise ValueError("target must be a relative path inside the instance folder")
        return value


class HealthCheck(Strict):
    path: str = "/"
    expect_status: int = 200


class Template(Strict):
    name: str = Field(pattern=NAME_PATTERN)
    title: Localized
    description: Localized
    category: str
    icon: str
    default_version: str
    versions: dict[str, Version]
    resources: Resources
    parameters: dict[str, Any]
    containers: list[Container] = Field(min_length=1)
    files: list[RenderedFile] = Field(default_factory=list)
    health: HealthCheck
    job_timeout_seconds: int | None = Field(default=None, gt=0)
    folder: Path = Field(exclude=True)

    @model_validator(mode="after")
    def _consistent(self) -> Template:
        if self.default_version not in self.versions:
            raise ValueError(f"default_version {self.default_version!r} is not among the versions")
        for version_name, version in self.versions.items():
            for container in self.containers:
                if container.image not in version.images:
                    raise ValueError(f"version {version_name!r} has no image {container.image!r}")
        published = [c for c in self.containers if c.port is not None]
        if len(published) != 1:
            raise ValueError("exactly one container must publish a port (the one the health check reaches)")
        if (
            self.parameters.get("type") != "object"
            or self.parameters.get("additionalProperties") is not False
        ):
            raise ValueError("parameters must be an object schema with additionalProperties: false")
        return self

    @property
    def published_container(self) -> Container:
        return next(c for c in self.containers if c.port is not None)


def volume_names(template: Template) -> list[str]:
    return sorted({name for c in template.containers for name in c.volumes})


def is_valid_name(value: str) -> bool:
    return re.fullmatch(NAME_PATTERN, value) is not None
