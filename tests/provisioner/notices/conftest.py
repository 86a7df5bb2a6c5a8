from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from provisioner.config import Settings

MakeSettings = Callable[..., Settings]


@pytest.fixture
def make_settings(db_url: str, tmp_path: Path) -> MakeSettings:
    """The lab's settings with ``more`` on top. No PROVISIONER_SMTP_* here: mail goes through the account
    stored as `provisioner mail configure` does, when a test stores one."""

    def made(**more: object) -> Settings:
        values = {"data_dir": tmp_path, "database_url": db_url, "public_url": "https://portal.lab.example"}
        return Settings.model_validate(values | more)

    return made
