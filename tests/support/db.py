"""Fresh, migrated databases for tests: SQLite files and PostgreSQL databases alike."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from provisioner.db import engine_for
from provisioner.migrate import upgrade

PG_ADMIN = "host=127.0.0.1 port=5432 user=provisioner password=provisioner dbname=postgres connect_timeout=5"


@contextmanager
def fresh_postgres() -> Iterator[str]:
    name = f"provisioner_unit_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        url = f"postgresql+psycopg://provisioner:provisioner@127.0.0.1:5432/{name}"
        try:
            yield url
        finally:
            engine_for(url).dispose()
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def migrated(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'provisioner.sqlite'}"
        upgrade(url)
        try:
            yield url
        finally:
            engine_for(url).dispose()
        return
    with fresh_postgres() as url:
        upgrade(url)
        yield url
