from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from provisioner.db import engine_for
from provisioner.migrate import alembic_config


def test_migrations_create_every_table_and_match_the_models(db_url: str) -> None:
    tables = set(inspect(engine_for(db_url)).get_table_names())
    assert {
        "tenants",
        "api_tokens",
        "servers",
        "instances",
        "jobs",
        "job_events",
        "alembic_version",
    } <= tables
    # Fails when a model changed without a migration.
    command.check(alembic_config(db_url))
