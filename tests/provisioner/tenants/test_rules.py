"""The contact address rule: what mail headers can carry, nothing that Python reads as a line break."""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.policy import SMTPUTF8

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


@pytest.mark.parametrize(
    "address", ["0@,.0:", "a,b@verein.de", "a@verein.de:", "<a>@verein.de", "a..b@verein.de"]
)
def test_a_character_a_mail_header_reads_as_structure_is_refused(address: str) -> None:
    # "0@,.0:" was taken once: the header parser read a list and a group in it and raised.
    assert not re.fullmatch(EMAIL, address)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.from_regex(EMAIL, fullmatch=True))
def test_every_address_the_rule_takes_can_head_a_mail(address: str) -> None:
    # The same steps as provisioner.mail: headers set on a default EmailMessage, then sent as SMTPUTF8 does.
    message = EmailMessage()
    message["From"] = address
    message["To"] = address
    message.set_content("Hallo")
    message.as_bytes(policy=SMTPUTF8)
    assert message["To"].addresses[0].addr_spec == address
