"""Encrypts values kept in the database (instance secrets, the SMTP password) with a key derived from the
lab's secret key. During a key rotation the previous key still decrypts; encryption uses the current one.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from provisioner.config import Settings

_INFO = b"provisioner instance secrets v1"


class DecryptionFailed(Exception):
    """No configured key opens the value: the secret key changed without a rotation."""


@lru_cache(maxsize=8)
def _derived(secret_key: str) -> Fernet:
    # HKDF, so the database key differs from every other use of the secret key.
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def keyring(*secret_keys: str | None) -> MultiFernet:
    """Encrypts with the first key, decrypts with any of them."""
    return MultiFernet([_derived(key) for key in secret_keys if key])


def settings_keyring(settings: Settings) -> MultiFernet:
    return keyring(settings.secret_key, settings.secret_key_previous)


def encrypt(settings: Settings, text: str) -> str:
    return settings_keyring(settings).encrypt(text.encode()).decode()


def decrypt(settings: Settings, token: str) -> str:
    try:
        return settings_keyring(settings).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionFailed(
            "a stored secret cannot be decrypted with PROVISIONER_SECRET_KEY (or _PREVIOUS); "
            "was the key changed without 'provisioner keys rotate'?"
        ) from exc
