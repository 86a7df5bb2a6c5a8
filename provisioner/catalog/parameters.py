"""Checks what a tenant asks for against the template's JSON Schema, naming every failing field."""

from __future__ import annotations

import copy
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from provisioner.catalog.model import Template
from provisioner.errors import InvalidInput


def validate_parameters(template: Template, parameters: dict[str, Any]) -> dict[str, Any]:
    """Return the parameters with schema defaults filled in, or raise with one entry per failing field."""
    validator = Draft202012Validator(template.parameters)
    failures = sorted(validator.iter_errors(parameters), key=lambda e: list(e.absolute_path))
    errors = [entry for e in failures for entry in _describe(e)]
    errors += [
        {"field": ".".join(["body", "parameters", *path]), "message": "must not contain NUL characters"}
        for path in _nul_characters(parameters, [])
    ]
    if errors:
        raise InvalidInput(f"the parameters do not fit the {template.name} service", errors=errors)
    completed = copy.deepcopy(parameters)
    for key, schema in template.parameters.get("properties", {}).items():
        if key not in completed and "default" in schema:
            completed[key] = copy.deepcopy(schema["default"])
    return completed


def _describe(error: ValidationError) -> list[dict[str, str]]:
    path = ["body", "parameters", *map(str, error.absolute_path)]
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        # Name each unknown key as its own field, so a form can mark exactly that one.
        schema = error.schema if isinstance(error.schema, dict) else {}
        known = set(schema.get("properties", {}))
        return [
            {"field": ".".join([*path, key]), "message": "this service has no such parameter"}
            for key in sorted(set(error.instance) - known)
        ]
    return [{"field": ".".join(path), "message": error.message}]


def _nul_characters(value: Any, path: list[str]) -> list[list[str]]:
    """Where NUL characters hide (a JSON Schema cannot refuse them, and PostgreSQL cannot store them)."""
    if isinstance(value, str):
        return [path] if "\x00" in value else []
    if isinstance(value, dict):
        items = [(str(k), v) for k, v in value.items()]
        keys = [[*path, k] for k, _ in items if "\x00" in k]
        return keys + [found for k, v in items for found in _nul_characters(v, [*path, k])]
    if isinstance(value, list):
        return [found for i, v in enumerate(value) for found in _nul_characters(v, [*path, str(i)])]
    return []
