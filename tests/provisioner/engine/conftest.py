"""A lab for the job engine's unit tests: a migrated SQLite database (copied per test from one made per
session), a server, a backup target never contacted, and a context with a scripted runner."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioner.db import forget_engine
from provisioner.migrate import upgrade
from tests.support.engine_lab import EngineLab


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("engine-db") / "template.sqlite"
    url = f"sqlite:///{path}"
    upgrade(url)
    forget_engine(url)
    return path


@pytest.fixture
def lab(migrated_sqlite: Path, tmp_path: Path) -> Iterator[EngineLab]:
    database = tmp_path / "provisioner.sqlite"
    shutil.copy(migrated_sqlite, database)
    url = f"sqlite:///{database}"
    try:
        yield EngineLab.make(url, tmp_path)
    finally:
        forget_engine(url)
