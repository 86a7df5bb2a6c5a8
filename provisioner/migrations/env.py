from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from provisioner import models  # noqa: F401 - registers the tables on the metadata
from provisioner.db import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(connection=connectable, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(config.get_section(config.config_ini_section) or {}, poolclass=pool.NullPool)
    with engine.connect() as connection:
        # SQLite cannot alter tables in place; batch mode copies them, which PostgreSQL does not need.
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
