"""Each test's database is a copy of one this process migrated (tests/support/db.py): the copy is what
running the migrations makes, the copies are each a test's own, and a PostgreSQL database a test gave
back comes to the next test as the migrations left it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from provisioner.audit.log import record_cli
from provisioner.db import session_factory
from provisioner.migrate import upgrade
from tests.support import factories
from tests.support.db import fresh_postgres, migrated


def _schema(url: str) -> dict[str, object]:
    """Every table's columns, indexes and constraints, and the revision the database is at."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            seen = inspect(connection)
            tables: dict[str, object] = {
                table: [
                    # default=str: a partial index's condition as its SQL text
                    sorted(json.dumps(part, default=str, sort_keys=True) for part in parts)
                    for parts in (
                        seen.get_columns(table),
                        seen.get_indexes(table),
                        seen.get_foreign_keys(table),
                        seen.get_unique_constraints(table),
                        seen.get_check_constraints(table),
                    )
                ]
                for table in seen.get_table_names()
            }
            tables["revision"] = connection.execute(text("SELECT version_num FROM alembic_version")).all()
            return tables
    finally:
        engine.dispose()


def _made_by_migrations(kind: str, tmp_path: Path) -> dict[str, object]:
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrated.sqlite'}"
        upgrade(url)
        return _schema(url)
    with fresh_postgres() as url:
        upgrade(url)
        return _schema(url)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_copy_is_what_the_migrations_make_and_each_copy_is_its_own(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if kind == "postgresql":
        request.getfixturevalue("postgres")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with migrated(kind, tmp_path / "a") as first, migrated(kind, tmp_path / "b") as second:
        assert first != second
        made = _made_by_migrations(kind, tmp_path)
        assert "jobs" in made
        assert _schema(first) == made
        written = create_engine(first)
        with written.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = 'written'"))
        written.dispose()
        assert _schema(second) == _schema(first) | {"revision": _schema(second)["revision"]}
        assert _schema(second)["revision"] != [("written",)]


def _contents(url: str) -> dict[str, object]:
    """Every table's rows and every sequence's next value."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows: dict[str, object] = {
                table: connection.execute(text(f'SELECT * FROM "{table}"')).all()  # noqa: S608
                for table in inspect(connection).get_table_names()
            }
            rows["sequences"] = connection.execute(
                text("SELECT sequencename, last_value FROM pg_sequences ORDER BY 1")
            ).all()
            return rows
    finally:
        engine.dispose()


def test_a_postgresql_database_given_back_comes_to_the_next_test_as_migrated(
    tmp_path: Path, postgres: None
) -> None:
    with migrated("postgresql", tmp_path) as url:
        blank = _contents(url)
        with session_factory(url)() as session:
            factories.homepage(session, factories.tenant(session, "given-back"))
            record_cli(session, "test.write")
            session.commit()
        written = _contents(url)
        assert written != blank
        assert written["audit_entries"]
        assert written["sequences"] != blank["sequences"]
    with migrated("postgresql", tmp_path) as again:
        assert again == url  # the same database, given back
        assert _contents(again) == blank
        assert _schema(again) == _schema(url)
