"""Passwords chosen by people: argon2id (argon2-cffi), with the library's current recommended cost.

A stored hash made with other parameters still verifies; ``needs_rehash`` tells the login to store a new one.
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from provisioner.errors import InvalidInput

MIN_LENGTH = 10
MAX_LENGTH = 1000  # hashing is costly; nobody types more

_hasher = PasswordHasher()  # argon2id, RFC 9106 "low memory" profile


def hash_password(plain: str) -> str:
    return _hasher.hash(plain)


def verify_password(stored: str, plain: str) -> bool:
    try:
        return _hasher.verify(stored, plain)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)


@cache
def dummy_hash() -> str:
    """Verified against when the e-mail is unknown, so both answers take about as long."""
    return _hasher.hash("no account has this password")


def check_strength(plain: str, *, email: str | None = None) -> None:
    def refuse(message: str) -> None:
        raise InvalidInput(message, errors=[{"field": "password", "message": message}])

    if len(plain) < MIN_LENGTH:
        refuse(f"the password needs at least {MIN_LENGTH} characters")
    if len(plain) > MAX_LENGTH:
        refuse(f"the password may have at most {MAX_LENGTH} characters")
    if email is not None and plain.strip().lower() == email.strip().lower():
        refuse("the password must not be the e-mail address")
