from __future__ import annotations

import pytest

from provisioner.catalog.loader import load_template
from provisioner.catalog.model import Template
from provisioner.catalog.parameters import ecma_pattern, validate_parameters
from provisioner.config import Settings
from provisioner.errors import InvalidInput

HOMEPAGE = load_template(Settings().resolved_templates_dir / "homepage")


def test_defaults_are_filled_in() -> None:
    assert validate_parameters(HOMEPAGE, {"title": "Verein"}) == {"title": "Verein", "language": "de"}


def test_every_failing_field_is_named() -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_parameters(HOMEPAGE, {"title": "", "language": "fr", "colour": "red", "font": "x"})
    fields = {e["field"] for e in caught.value.errors or []}
    assert fields == {
        "body.parameters.title",
        "body.parameters.language",
        "body.parameters.colour",
        "body.parameters.font",
    }


def test_a_missing_required_field_is_reported() -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_parameters(HOMEPAGE, {})
    assert caught.value.errors == [{"field": "body.parameters", "message": "'title' is a required property"}]


NEXTCLOUD = load_template(Settings().resolved_templates_dir / "nextcloud")
DISCOURSE = load_template(Settings().resolved_templates_dir / "discourse")


@pytest.mark.parametrize(
    ("template", "field", "value"),
    [
        # Python's "$" matches before a final newline; JSON Schema's only at the end of the text.
        (NEXTCLOUD, "phone_region", "DE\n"),
        (DISCOURSE, "admin_email", "board@verein.org\n"),
        # JSON Schema counts 5.0 as an integer; the rendered file would say "5.0".
        (NEXTCLOUD, "default_quota_gb", 5.0),
        (NEXTCLOUD, "default_quota_gb", True),
    ],
)
def test_a_trailing_newline_or_a_whole_float_is_refused_naming_the_field(
    template: Template, field: str, value: object
) -> None:
    valid = {"admin_email": "board@verein.org"} if template is DISCOURSE else {}
    with pytest.raises(InvalidInput) as caught:
        validate_parameters(template, {**valid, field: value})
    assert [e["field"] for e in caught.value.errors or []] == [f"body.parameters.{field}"]
    assert validate_parameters(template, {**valid, field: value.rstrip() if isinstance(value, str) else 5})


def test_a_dollar_sign_in_a_character_class_or_escaped_stays_literal() -> None:
    assert ecma_pattern(r"^[a-z$]+\$x$") == r"^[a-z$]+\$x(?!\n)$"
