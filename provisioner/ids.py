"""Opaque identifiers. A short type prefix helps people reading logs; the rest is random."""

from __future__ import annotations

import secrets

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32 in lower case: safe in DNS, paths, names


def new_id(prefix: str) -> str:
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(16))
