"""Checks what a tenant asks for against the template's JSON Schema, naming every failing field."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from provisioner.catalog.model import Template
from provisioner.errors import InvalidInput


def validate_parameters(template: Template, parameters: dict[str, Any]) -> dict[str, Any]:
    """Return the parameters with schema defaults filled in, or raise with one entry per failing field."""
    validator = StrictValidator(template.parameters)
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


def ecma_pattern(pattern: str) -> str:
    """The pattern with JSON Schema's (ECMA-262) meaning of ``$`` in Python: the end of the text, where
    Python's ``$`` also matches just before a final newline ("abc\\n" would pass ``^[a-z]+$``)."""
    out, in_class, escaped = [], False, False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "$" and not in_class:
            out.append(r"(?!\n)")
        out.append(char)
    return "".join(out)


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(ecma_pattern(pattern))


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _compiled(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _integer(checker: Any, instance: Any) -> bool:
    # JSON Schema counts 5.0 as an integer; a rendered file would then say "5.0" where a count belongs.
    return isinstance(instance, int) and not isinstance(instance, bool)


StrictValidator = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator,
    validators={"pattern": _pattern},
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _integer),
)


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
