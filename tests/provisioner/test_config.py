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
