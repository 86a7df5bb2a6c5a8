"""Encrypts values kept in the database (instance secrets) with a key derived from the secret key.

Small on purpose: key files and rotation come later behind the same two functions.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from provisioner.config import Settings

_INFO = b"provisioner instance secrets v1"


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    # HKDF, so the database key differs from every other use of the secret key.
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(settings: Settings, text: str) -> str:
    return _fernet(settings.secret_key).encrypt(text.encode()).decode()


def decrypt(settings: Settings, token: str) -> str:
    return _fernet(settings.secret_key).decrypt(token.encode()).decode()
