"""Database migrations, run by ``provisioner db upgrade`` and at the start of embedded mode."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from provisioner.db import engine_for


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def new_revision(database_url: str, *, message: str) -> None:
    """Write a migration for what changed in the models, compared with an up-to-date database."""
    upgrade(database_url)
    # Numbered revisions read in order in the folder and in reviews.
    number = len(list((Path(__file__).parent / "migrations" / "versions").glob("[0-9]*.py"))) + 1
    command.revision(alembic_config(database_url), message=message, autogenerate=True, rev_id=f"{number:04d}")


def upgrade(database_url: str) -> None:
    config = alembic_config(database_url)
    with engine_for(database_url).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def head_revision() -> str:
    """The schema revision this version of the code expects."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:
        raise RuntimeError("the migrations folder has no head revision")
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision a database was migrated to; None for an empty one."""
    return MigrationContext.configure(connection).get_current_revision()
