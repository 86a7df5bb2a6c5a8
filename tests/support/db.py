"""Fresh, migrated databases for tests: SQLite files and PostgreSQL databases alike."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from provisioner.db import forget_engine
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
            forget_engine(url)
            _drop(admin, name)


def _drop(admin: psycopg.Connection[Any], name: str) -> None:
    # An autovacuum worker on the fresh database belongs to the superuser, so FORCE may not end it;
    # it finishes within moments.
    for attempt in range(20):
        try:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            return
        except psycopg.errors.InsufficientPrivilege:
            if attempt == 19:
                raise
            time.sleep(0.5)


@contextmanager
def migrated(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'provisioner.sqlite'}"
        upgrade(url)
        try:
            yield url
        finally:
            forget_engine(url)
        return
    with fresh_postgres() as url:
        upgrade(url)
        yield url
