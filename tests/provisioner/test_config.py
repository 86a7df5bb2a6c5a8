from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from provisioner.config import Environment, Settings


def test_production_refuses_the_development_secret() -> None:
    with pytest.raises(ValidationError, match="PROVISIONER_SECRET_KEY is still the development default"):
        Settings(environment=Environment.PRODUCTION)


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 16 characters"):
        Settings(secret_key="short")


def test_embedded_defaults_live_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.is_embedded
    assert settings.resolved_database_url == f"sqlite:///{tmp_path}/provisioner.sqlite"
    assert settings.resolved_broker_url == f"sqla+sqlite:///{tmp_path}/broker.sqlite"


def test_settings_come_from_prefixed_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROVISIONER_DATABASE_URL", "postgresql+psycopg://u:p@db/x")
    monkeypatch.setenv("PROVISIONER_IMAGE_REGISTRY", "mirror.lab:5000")
    settings = Settings()
    assert not settings.is_embedded
    assert settings.image_registry == "mirror.lab:5000"


def test_the_secret_key_comes_from_a_key_file_outside_the_data_folder(tmp_path: Path) -> None:
    key_file = tmp_path / "etc" / "secret.key"
    key_file.parent.mkdir()
    key_file.write_text("a-long-key-read-from-a-file\n")
    settings = Settings(data_dir=tmp_path / "data", secret_key_file=key_file)
    assert settings.secret_key == "a-long-key-read-from-a-file"


def test_a_key_file_inside_the_data_folder_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "data" / "keys" / "secret.key"
    key_file.parent.mkdir(parents=True)
    key_file.write_text("a-long-key-read-from-a-file")
    with pytest.raises(ValidationError, match="backups of that folder would carry the key"):
        Settings(data_dir=tmp_path / "data", secret_key_file=key_file)


def test_a_key_file_next_to_the_sqlite_database_is_refused(tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()
    key_file = tmp_path / "db" / "secret.key"
    key_file.write_text("a-long-key-read-from-a-file")
    with pytest.raises(ValidationError, match="database's folder"):
        Settings(
            data_dir=tmp_path / "data",
            database_url=f"sqlite:///{tmp_path / 'db' / 'p.sqlite'}",
            secret_key_file=key_file,
        )


def test_a_missing_key_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot be read"):
        Settings(data_dir=tmp_path / "data", secret_key_file=tmp_path / "nowhere.key")
