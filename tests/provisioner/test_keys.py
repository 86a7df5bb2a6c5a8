"""Key rotation on SQLite and PostgreSQL: every encrypted column, in one transaction, old key still read."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from provisioner.config import Settings
from provisioner.crypto import DecryptionFailed, decrypt, encrypt
from provisioner.db import Base, session_factory
from provisioner.keys import ENCRYPTED_COLUMNS, rotate_keys
from provisioner.mail_config import mail_settings_for
from provisioner.models import InstanceSecret, MailSettings
from tests.support.lab_rows import instance_with_secrets

OLD = "the-old-secret-key-of-the-lab"
NEW = "the-new-secret-key-of-the-lab"


def test_every_encrypted_column_of_the_models_is_in_the_registry() -> None:
    marked = {
        (table.name, column.name)
        for table in Base.metadata.tables.values()
        for column in table.columns
        if column.info.get("encrypted")
    }
    registered = {(c.class_.__tablename__, c.key) for c in ENCRYPTED_COLUMNS}
    assert marked == registered
    # A column named like a secret must be marked (so the registry check above sees it); hashes are
    # one-way and need no key.
    unmarked = {
        (table.name, column.name)
        for table in Base.metadata.tables.values()
        for column in table.columns
        if any(w in column.name for w in ("encrypted", "password", "private_key", "secret"))
        and not column.info.get("encrypted")
        and not column.name.endswith("_hash")
    }
    assert unmarked == set()


def _populate(db_url: str, settings: Settings) -> str:
    with session_factory(db_url)() as session:
        instance = instance_with_secrets(session, settings)
        session.commit()
        return instance.id


def test_rotation_re_encrypts_every_column_and_the_new_key_alone_reads_them(
    db_url: str, tmp_path: Path
) -> None:
    old = Settings(data_dir=tmp_path, database_url=db_url, secret_key=OLD)
    instance_id = _populate(db_url, old)
    with session_factory(db_url)() as session:
        before = {s.name: decrypt(old, s.encrypted) for s in session.scalars(select(InstanceSecret))}
        result = rotate_keys(session, old, new_key=NEW)
        session.commit()
    assert result.values == len(before) + 1
    new = Settings(data_dir=tmp_path, database_url=db_url, secret_key=NEW)
    with session_factory(db_url)() as session:
        rows = session.scalars(select(InstanceSecret).where(InstanceSecret.instance_id == instance_id))
        assert {s.name: decrypt(new, s.encrypted) for s in rows} == before
        assert mail_settings_for(session, new).smtp_password == "smtp-password-1"
        with pytest.raises(DecryptionFailed, match="keys rotate"):
            mail_settings_for(session, old)


def test_during_a_rollout_the_previous_key_still_decrypts(tmp_path: Path) -> None:
    old = Settings(data_dir=tmp_path, secret_key=OLD)
    rolled = Settings(data_dir=tmp_path, secret_key=NEW, secret_key_previous=OLD)
    written_before = encrypt(old, "kept")
    assert decrypt(rolled, written_before) == "kept"
    # New values are written with the new key only.
    with pytest.raises(DecryptionFailed):
        decrypt(old, encrypt(rolled, "new"))


def test_a_value_no_key_opens_stops_the_whole_rotation(db_url: str, tmp_path: Path) -> None:
    old = Settings(data_dir=tmp_path, database_url=db_url, secret_key=OLD)
    _populate(db_url, old)
    stranger = Settings(data_dir=tmp_path, secret_key="some-other-lab-secret-key")
    with session_factory(db_url)() as session:
        row = session.get_one(MailSettings, 1)
        row.password_encrypted = encrypt(stranger, "x")
        session.commit()
        before = sorted(session.scalars(select(InstanceSecret.encrypted)))
        with pytest.raises(DecryptionFailed, match=r"mail_settings\.password_encrypted"):
            rotate_keys(session, old, new_key=NEW)
        session.rollback()
        assert sorted(session.scalars(select(InstanceSecret.encrypted))) == before
