"""The contact address rule: what mail headers can carry, nothing that Python reads as a line break."""

from __future__ import annotations

import re

import pytest

from provisioner.tenants.rules import EMAIL


@pytest.mark.parametrize("address", ["vorstand@verein-a.example.org", "v@straße.de"])
def test_an_address_of_letters_is_taken(address: str) -> None:
    assert re.fullmatch(EMAIL, address)


@pytest.mark.parametrize(
    "address",
    ["a\x1cb@verein.de", "vorstand@verein.de\x85", "a@b\x7f.de", "vor stand@verein.de", "vorstand@verein"],
)
def test_a_control_character_or_a_space_is_refused(address: str) -> None:
    # \x1c and \x85 would pass a plain \s check, and the mail's From or To header would then be refused.
    assert not re.fullmatch(EMAIL, address)
