"""A request form generated from a template's parameter JSON Schema, and the service's errors mapped back.

Labels come from ``x-title`` ({de, en}) when a template gives one, else from the schema's ``title``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from provisioner.catalog.model import Template

PARAMETER_PREFIX = "param-"
INPUT_KINDS = {"integer": "number", "number": "number", "boolean": "checkbox"}


@dataclass
class FormField:
    name: str  # the form field's name
    label: str
    kind: str  # text, email, number, checkbox, select
    required: bool
    value: str = ""
    checked: bool = False
    options: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def html_id(self) -> str:
        return f"field-{self.name}"


def _label(key: str, schema: Mapping[str, Any], language: str) -> str:
    localized = schema.get("x-title")
    if isinstance(localized, Mapping) and isinstance(localized.get(language), str):
        return str(localized[language])
    return str(schema.get("title") or key)


def _attributes(schema: Mapping[str, Any]) -> dict[str, Any]:
    names = {"minLength": "minlength", "maxLength": "maxlength", "minimum": "min", "maximum": "max"}
    return {html: schema[key] for key, html in names.items() if key in schema}


def parameter_fields(template: Template, language: str, values: Mapping[str, Any]) -> list[FormField]:
    required = set(template.parameters.get("required", []))
    fields = []
    for key, schema in template.parameters.get("properties", {}).items():
        kind = INPUT_KINDS.get(schema.get("type"), "text")
        if "enum" in schema:
            kind = "select"
        elif schema.get("format") == "email":
            kind = "email"
        current = values.get(key, schema.get("default", ""))
        fields.append(
            FormField(
                name=PARAMETER_PREFIX + key,
                label=_label(key, schema, language),
                kind=kind,
                required=key in required and kind != "checkbox",
                value="" if current is None or isinstance(current, bool) else str(current),
                checked=current is True,
                options=[str(option) for option in schema.get("enum", [])],
                attributes=_attributes(schema),
            )
        )
    return fields


def parameters_from(template: Template, form: Mapping[str, str]) -> dict[str, Any]:
    """Form strings to the schema's types; what cannot be converted stays a string for the check to name."""
    parameters: dict[str, Any] = {}
    for key, schema in template.parameters.get("properties", {}).items():
        raw = form.get(PARAMETER_PREFIX + key)
        kind = schema.get("type")
        if kind == "boolean":
            parameters[key] = raw is not None
            continue
        if raw is None or (raw == "" and key not in template.parameters.get("required", [])):
            continue
        parameters[key] = _convert(raw, kind)
    return parameters


def _convert(raw: str, kind: Any) -> Any:
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
    except ValueError:
        return raw
    return raw


def form_field_for(api_field: str) -> str:
    """``body.parameters.title`` -> ``param-title``; ``body.name`` -> ``name``."""
    parts = api_field.split(".")
    if parts[:2] == ["body", "parameters"] and len(parts) > 2:
        return PARAMETER_PREFIX + parts[2]
    return parts[-1]


def errors_by_field(errors: list[dict[str, Any]] | None) -> dict[str, str]:
    found: dict[str, str] = {}
    for entry in errors or []:
        found.setdefault(form_field_for(str(entry.get("field", ""))), str(entry.get("message", "")))
    return found


def pydantic_errors(exc: ValidationError) -> dict[str, str]:
    return errors_by_field(
        [{"field": ".".join(["body", *map(str, e["loc"])]), "message": e["msg"]} for e in exc.errors()]
    )
