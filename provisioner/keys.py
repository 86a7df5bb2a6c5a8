"""Key rotation: every encrypted column, re-encrypted with a new key in one transaction.

``ENCRYPTED_COLUMNS`` is the one list of encrypted columns; a test checks that every model column
marked ``info={"encrypted": True}`` is in it, so a new one cannot be left out of a rotation.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.fernet import InvalidToken
from sqlalchemy import select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from provisioner.config import Settings
from provisioner.crypto import DecryptionFailed, keyring
from provisioner.models import (
    BackupRepository,
    BackupTarget,
    InstanceSecret,
    MailSettings,
    Space,
    WebhookSettings,
)

ENCRYPTED_COLUMNS: tuple[InstrumentedAttribute[str] | InstrumentedAttribute[str | None], ...] = (
    InstanceSecret.encrypted,
    MailSettings.password_encrypted,
    WebhookSettings.url_encrypted,
    WebhookSettings.secret_encrypted,
    BackupTarget.encrypted_credentials,
    BackupRepository.encrypted_password,
    BackupRepository.encrypted_rest_password,
    Space.encrypted_admin_password,
)


@dataclass(frozen=True)
class RotationResult:
    values: int
    columns: int


def rotate_keys(session: Session, settings: Settings, *, new_key: str) -> RotationResult:
    """Re-encrypt every value with ``new_key``; values the current or previous key opens are accepted.

    The caller commits (or rolls back) the whole rotation: one value that no key opens stops it all.
    """
    if len(new_key) < 16:
        raise ValueError("the new secret key must be at least 16 characters long")
    ring = keyring(new_key, settings.secret_key, settings.secret_key_previous)
    count = 0
    for column in ENCRYPTED_COLUMNS:
        model = column.class_
        key_name = model.__mapper__.primary_key[0].key
        key_column = getattr(model, key_name)
        rows = session.execute(select(key_column, column).where(column.is_not(None))).all()
        changes = []
        for row_key, token in rows:
            try:
                rotated = ring.rotate(token.encode()).decode()
            except InvalidToken as exc:
                raise DecryptionFailed(
                    f"a value in {model.__tablename__}.{column.key} opens with none of the keys; "
                    "nothing was changed"
                ) from exc
            changes.append({key_name: row_key, column.key: rotated})
        if changes:
            # One statement for all rows (executemany), by primary key.
            session.execute(update(model), changes)
        count += len(changes)
    session.flush()
    return RotationResult(values=count, columns=len(ENCRYPTED_COLUMNS))
