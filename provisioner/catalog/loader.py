"""Reads service template folders. Adding a service means adding a folder, not editing Python."""

from __future__ import annotations

from pathlib import Path

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import ValidationError

from provisioner.catalog.model import Template
from provisioner.errors import NotFound


class TemplateError(Exception):
    """A template folder that cannot be used; the message names the file."""


def load_template(folder: Path) -> Template:
    path = folder / "template.yaml"
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"{path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise TemplateError(f"{path}: expected a mapping at the top")
    try:
        template = Template.model_validate({**raw, "folder": folder})
    except ValidationError as exc:
        raise TemplateError(f"{path}: {exc}") from exc
    if template.name != folder.name:
        raise TemplateError(f"{path}: name {template.name!r} differs from the folder name {folder.name!r}")
    try:
        Draft202012Validator.check_schema(template.parameters)
    except SchemaError as exc:
        raise TemplateError(f"{path}: parameters is no valid JSON Schema: {exc.message}") from exc
    for rendered in template.files:
        if not (folder / rendered.source).is_file():
            raise TemplateError(f"{path}: file {rendered.source!r} does not exist")
    return template


class Catalog:
    def __init__(self, templates: dict[str, Template]) -> None:
        self._templates = templates

    @classmethod
    def from_dir(cls, root: Path) -> Catalog:
        folders = sorted(p for p in root.iterdir() if (p / "template.yaml").is_file())
        return cls({t.name: t for t in map(load_template, folders)})

    def all(self) -> list[Template]:
        return list(self._templates.values())

    def get(self, name: str) -> Template:
        try:
            return self._templates[name]
        except KeyError:
            raise NotFound(f"there is no service called {name!r} in the catalog") from None
