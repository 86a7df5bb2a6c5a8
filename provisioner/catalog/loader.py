"""Reads service template folders. Adding a service means adding a folder, not editing Python."""

from __future__ import annotations

from pathlib import Path

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import ValidationError

from provisioner.catalog.model import Template
from provisioner.catalog.positions import where
from provisioner.errors import NotFound


class TemplateError(Exception):
    """A template folder that cannot be used; the message names the file (and the line where known)."""


def load_template(folder: Path) -> Template:
    path = folder / "template.yaml"
    try:
        # libyaml's parser, which PyYAML's wheels bundle: the catalog is read each time the application
        # starts, and the pure-Python one took about 0.3 s for it. Both read the same YAML 1.1.
        raw = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"{path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise TemplateError(f"{path}: expected a mapping at the top")
    try:
        template = Template.model_validate({**raw, "folder": folder})
    except ValidationError as exc:
        problems = [
            f"{where(path, err['loc'])}: {'.'.join(map(str, err['loc'])) or 'template'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise TemplateError("\n".join(problems)) from exc
    if template.name != folder.name:
        raise TemplateError(
            f"{where(path, ['name'])}: name {template.name!r} differs from the folder name {folder.name!r}"
        )
    try:
        Draft202012Validator.check_schema(template.parameters)
    except SchemaError as exc:
        location = ["parameters", *exc.absolute_path]
        raise TemplateError(
            f"{where(path, location)}: parameters is no valid JSON Schema: {exc.message}"
        ) from exc
    for index, rendered in enumerate(template.files):
        if not (folder / rendered.source).is_file():
            raise TemplateError(
                f"{where(path, ['files', index, 'source'])}: file {rendered.source!r} does not exist"
            )
    if template.launcher and not (folder / template.launcher.playbook).is_file():
        raise TemplateError(
            f"{where(path, ['launcher', 'playbook'])}: {template.launcher.playbook!r} does not exist"
        )
    return template


def template_folders(root: Path) -> list[Path]:
    # Folders starting with "_" hold shared parts (images used by several services), not services.
    return sorted(p for p in root.iterdir() if (p / "template.yaml").is_file() and not p.name.startswith("_"))


class Catalog:
    def __init__(self, templates: dict[str, Template]) -> None:
        self._templates = templates

    @classmethod
    def from_dir(cls, root: Path) -> Catalog:
        return cls({t.name: t for t in map(load_template, template_folders(root))})

    def all(self) -> list[Template]:
        return list(self._templates.values())

    def get(self, name: str) -> Template:
        try:
            return self._templates[name]
        except KeyError:
            raise NotFound(f"there is no service called {name!r} in the catalog") from None
