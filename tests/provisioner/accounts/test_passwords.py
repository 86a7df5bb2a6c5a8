from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from provisioner.accounts.passwords import check_strength, hash_password, needs_rehash, verify_password
from provisioner.errors import InvalidInput

pytestmark = pytest.mark.usefixtures("product_password_cost")


def test_a_password_is_stored_as_argon2id_and_verifies() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert "correct horse battery" not in stored
    assert verify_password(stored, "correct horse battery")
    assert not verify_password(stored, "correct horse batterY")
    assert not needs_rehash(stored)
    assert "$m=65536,t=3,p=4$" in stored  # RFC 9106's "low memory" profile, argon2-cffi's default


def test_a_broken_hash_does_not_verify_instead_of_raising() -> None:
    assert not verify_password("not-a-hash", "whatever12345")


def test_a_hash_made_with_other_parameters_still_verifies_but_asks_for_a_rehash() -> None:
    weaker = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("correct horse battery")
    assert verify_password(weaker, "correct horse battery")
    assert needs_rehash(weaker)


@pytest.mark.parametrize(
    ("password", "why"),
    [("short", "at least 10"), ("anna@verein.example", "e-mail"), ("x" * 1001, "at most")],
)
def test_weak_passwords_are_refused_naming_the_field(password: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why) as caught:
        check_strength(password, email="Anna@Verein.example")
    assert caught.value.errors == [{"field": "password", "message": str(caught.value)}]


def test_a_long_enough_password_passes() -> None:
    check_strength("ten chars!", email="anna@verein.example")
