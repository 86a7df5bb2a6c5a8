"""``provisioner db dump``: every table of the control plane's database into one portable file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, select

import provisioner.models  # noqa: F401 - registers every table on Base.metadata
from provisioner.config import Settings
from provisioner.crypto import encrypt
from provisioner.db import Base, engine_for
from provisioner.dbdump.fileformat import (
    FORMAT,
    KEY_CHECK,
    VERSION,
    encode,
    kinds,
    open_for_writing,
    write_line,
)
from provisioner.migrate import current_revision, head_revision
from provisioner.timeutil import utcnow


class DumpRefused(Exception):
    """The dump was not written; the message says why."""


@dataclass(frozen=True)
class DumpResult:
    tables: int
    rows: int


def key_files(settings: Settings) -> list[Path]:
    """Where this install reads its secret key from (a file set in the settings or the generated one)."""
    if settings.secret_key_file is not None:
        return [settings.secret_key_file]
    if settings.may_generate_key and settings.resolved_generated_key_file.exists():
        return [settings.resolved_generated_key_file]
    return []


def _refuse_beside_key(settings: Settings, path: Path) -> None:
    folder = path.expanduser().resolve().parent
    for key_file in key_files(settings):
        if key_file.expanduser().resolve().parent == folder:
            raise DumpRefused(
                f"{path} would lie beside the secret key ({key_file}): whoever finds one would find "
                "both. Write the dump to another place than the key"
            )


def _ssh_key(settings: Settings) -> dict[str, str] | None:
    private = settings.resolved_ssh_key_path
    public = private.with_suffix(".pub")
    if not private.is_file():
        return None
    return {
        "private": encrypt(settings, private.read_text()),
        "public": public.read_text() if public.is_file() else "",
    }


def _consistent(connection: Connection) -> None:
    """One snapshot for every table, so the dump never holds a job without its events' parent rows."""
    if connection.dialect.name == "sqlite":
        # pysqlite starts no transaction for reads; an explicit one pins the WAL snapshot.
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")


def dump_database(settings: Settings, *, path: Path) -> DumpResult:
    """Write the whole database to ``path`` (which must not exist yet), consistent as of one moment."""
    _refuse_beside_key(settings, path)
    if path.exists():
        raise DumpRefused(f"{path} exists already; nothing was written")
    engine = engine_for(settings.resolved_database_url)
    counts: dict[str, int] = {}
    with engine.connect() as connection:
        _consistent(connection)
        revision = current_revision(connection)
        if revision != head_revision():
            raise DumpRefused(
                f"the database is at schema revision {revision}, this version expects {head_revision()}: "
                "run 'provisioner db upgrade' first"
            )
        out = open_for_writing(path)
        try:
            with out:
                write_line(
                    out,
                    {
                        "format": FORMAT,
                        "version": VERSION,
                        "schema": revision,
                        "database": connection.dialect.name,
                        "created_at": utcnow().isoformat(),
                        "key_check": encrypt(settings, KEY_CHECK),
                        # The key the servers know this control plane by; without it a new data
                        # folder could reach none of them. Encrypted like every secret in the rows.
                        "ssh_key": _ssh_key(settings),
                    },
                )
                for table in Base.metadata.sorted_tables:
                    write_line(out, {"table": table.name, "columns": [c.name for c in table.columns]})
                    column_kinds = kinds(table)
                    count = 0
                    # Ordered by primary key, so two dumps of the same data are the same file's lines.
                    query = select(table).order_by(*table.primary_key.columns)
                    for row in connection.execution_options(yield_per=1000).execute(query):
                        write_line(out, [encode(k, v) for k, v in zip(column_kinds, row, strict=True)])
                        count += 1
                    counts[table.name] = count
                write_line(out, {"end": True, "rows": counts})
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        connection.rollback()
    return DumpResult(tables=len(counts), rows=sum(counts.values()))
