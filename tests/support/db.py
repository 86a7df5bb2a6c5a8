"""Fresh, migrated databases for tests: SQLite files and PostgreSQL databases alike.

Each test gets a database of its own. Running every migration for each of them cost about a second per
test (two for PostgreSQL under load), several minutes of the suite; so each test process migrates one
database of each kind once, and each test gets a copy of it: the SQLite file copied, the PostgreSQL
database created from it as its template. Creating and dropping a PostgreSQL database still cost 0.5 to
0.8 s under load, for about 420 tests; so a PostgreSQL database a test is done with goes back to its
process, emptied back to what the migrations left (every row deleted, the sequences set back), for the
next test. tests/test_db_copies.py shows that a copy, and a database given back, is what the
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

import provisioner.models  # noqa: F401  (every table in Base.metadata, for _blank's order)
from provisioner.db import Base, forget_engine
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
    name = _take_postgres()
    try:
        yield _url(name)
    finally:
        forget_engine(_url(name))
        _GIVEN_BACK.append(name)


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
            atexit.register(_drop_database, name)
            upgrade(_url(name))
            forget_engine(_url(name))
            _BLANK["postgresql"] = _blank(name)
            admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(name)))
        _MIGRATED["postgresql"] = name
    return _MIGRATED["postgresql"]


@dataclass(frozen=True)
class _Blank:
    """What a migrated PostgreSQL database holds, and the script that brings a used copy back to it."""

    catalog: list[tuple[Any, ...]]  # its relations, with the number of triggers on each
    rows: dict[str, bytes]  # the rows the migrations wrote, per table (COPY text)
    script: sql.Composed


_GIVEN_BACK: list[str] = []  # PostgreSQL databases of this process that no test holds, each to be emptied
_BLANK: dict[str, _Blank] = {}  # "postgresql" -> what the database this process migrated holds


def _take_postgres() -> str:
    """A migrated PostgreSQL database no other test holds: one given back, emptied, or a new copy."""
    template = _migrated_postgres()
    while _GIVEN_BACK:
        name = _GIVEN_BACK.pop()
        if _emptied(name):
            return name
        _drop_database(name)
    name = f"provisioner_unit_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        _create(admin, name, template)
    atexit.register(_drop_database, name)
    return name


_CATALOG = """
    SELECT c.relname, c.relkind, count(t.oid) FROM pg_class c LEFT JOIN pg_trigger t ON t.tgrelid = c.oid
    WHERE c.relnamespace = 'public'::regnamespace GROUP BY 1, 2 ORDER BY 1
"""


def _blank(name: str) -> _Blank:
    """The script deletes every row, children before parents (the audit table's triggers, which refuse
    that, set aside for it), and sets each sequence to where it stood."""
    with psycopg.connect(_dsn(name)) as database:
        catalog = database.execute(_CATALOG).fetchall()
        tables = [relation for relation, kind, _ in catalog if kind == "r"]
        rows = {}
        for table in tables:
            with database.cursor().copy(sql.SQL("COPY {} TO STDOUT").format(sql.Identifier(table))) as copy:
                rows[table] = b"".join(bytes(chunk) for chunk in copy)
        sequences = database.execute(
            "SELECT sequencename, start_value, last_value FROM pg_sequences WHERE schemaname = 'public'"
        ).fetchall()
    order = {table.name: index for index, table in enumerate(Base.metadata.sorted_tables)}
    script: list[sql.Composable] = [sql.SQL("SET LOCAL lock_timeout = '5s'")]
    triggered = [relation for relation, kind, triggers in catalog if kind == "r" and triggers]
    script += [sql.SQL("ALTER TABLE {} DISABLE TRIGGER USER").format(sql.Identifier(t)) for t in triggered]
    for table in sorted(tables, key=lambda t: -order.get(t, -1)):
        script.append(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
    script += [sql.SQL("ALTER TABLE {} ENABLE TRIGGER USER").format(sql.Identifier(t)) for t in triggered]
    for sequence, start, last in sequences:
        at, called = (start, False) if last is None else (last, True)
        script.append(sql.SQL("SELECT setval({}, {}, {})").format(sql.Literal(sequence), at, called))
    return _Blank(catalog, {t: r for t, r in rows.items() if r}, sql.SQL("; ").join(script))


def _emptied(name: str) -> bool:
    """Brings a database a test gave back to what the migrations left; False when it can't be (a test
    changed its tables, or something still holds it), and then it is dropped instead."""
    try:
        with psycopg.connect(_dsn(name)) as database:
            # A connection the test left open (a thread's, say) must not write into the next test's rows.
            database.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND usename = current_user"
            )
            blank = _BLANK["postgresql"]
            if database.execute(_CATALOG).fetchall() != blank.catalog:
                return False
            database.execute(blank.script)
            for table, rows in blank.rows.items():
                into = sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(table))
                with database.cursor().copy(into) as copy:
                    copy.write(rows)
        return True
    except psycopg.Error:
        return False


def _dsn(name: str) -> str:
    return PG_ADMIN.replace("dbname=postgres", f"dbname={name}")


def _drop_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        _drop(admin, name)
