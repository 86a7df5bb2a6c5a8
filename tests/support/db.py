"""Fresh, migrated databases for tests: SQLite files and PostgreSQL databases alike.

Each test gets a database of its own. Running every migration for each of them cost about a second per
test (two for PostgreSQL under load), several minutes of the suite; so each test process migrates one
database of each kind once, and each test gets a copy of it: the SQLite file copied, the PostgreSQL
database created from it as its template. tests/test_db_copies.py shows that a copy is what the
migrations make.
"""

from __future__ import annotations

import atexit
import secrets
import shutil
import sqlite3
import tempfile
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


def _url(name: str) -> str:
    return f"postgresql+psycopg://provisioner:provisioner@127.0.0.1:5432/{name}"


@contextmanager
def fresh_postgres(*, template: str | None = None) -> Iterator[str]:
    """An empty database of its own (or a copy of ``template``), dropped at the end."""
    name = f"provisioner_unit_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        _create(admin, name, template)
        url = _url(name)
        try:
            yield url
        finally:
            forget_engine(url)
            _drop(admin, name)


def _create(admin: psycopg.Connection[Any], name: str, template: str | None) -> None:
    if template is None:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return
    create = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
    # The template takes no connections, so autovacuum leaves it alone too; one that began before that
    # finishes within moments.
    for attempt in range(20):
        try:
            admin.execute(create)
            return
        except psycopg.errors.ObjectInUse:
            if attempt == 19:
                raise
            time.sleep(0.5)


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
    """A database of the kind ("sqlite" or "postgresql") of this test's own, migrated to the head."""
    if kind == "sqlite":
        path = tmp_path / "provisioner.sqlite"
        _copy_sqlite(_migrated_sqlite(), path)
        url = f"sqlite:///{path}"
        try:
            yield url
        finally:
            forget_engine(url)
        return
    with fresh_postgres(template=_migrated_postgres()) as url:
        yield url


_MIGRATED: dict[str, str] = {}  # kind -> the SQLite file or PostgreSQL database this process migrated


def _migrated_sqlite() -> str:
    if "sqlite" not in _MIGRATED:
        folder = tempfile.mkdtemp(prefix="provisioner-migrated-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        path = f"{folder}/provisioner.sqlite"
        upgrade(f"sqlite:///{path}")
        forget_engine(f"sqlite:///{path}")
        _MIGRATED["sqlite"] = path
    return _MIGRATED["sqlite"]


def _copy_sqlite(source: str, target: Path) -> None:
    """SQLite's own copy (its backup API), which also takes what is still in the write-ahead log."""
    with sqlite3.connect(source) as original, sqlite3.connect(target) as copy:
        original.backup(copy)
    original.close()
    copy.close()


def _migrated_postgres() -> str:
    if "postgresql" not in _MIGRATED:
        name = f"provisioner_unit_migrated_{secrets.token_hex(4)}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            atexit.register(_drop_template, name)
            upgrade(_url(name))
            forget_engine(_url(name))
            admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(name)))
        _MIGRATED["postgresql"] = name
    return _MIGRATED["postgresql"]


def _drop_template(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        _drop(admin, name)
