from __future__ import annotations

import pytest

from provisioner.catalog.loader import load_template
from provisioner.catalog.parameters import validate_parameters
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
