"""``provisioner db restore``: a dump back into a database of either kind, all or nothing.

Everything that can be checked is checked before the first row is written: the file is whole, it
was made at a schema revision this version can take, the secret key opens the dump's key check and
every encrypted value in it, and the target database is empty (unless the caller said to replace
what is there). Then one transaction writes every row; a failure leaves the target as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import InvalidToken
from sqlalchemy import Connection, Table, delete, func, select, text

import provisioner.models  # noqa: F401 - registers every table on Base.metadata
from provisioner.config import Settings
from provisioner.crypto import decrypt, settings_keyring
from provisioner.db import Base, engine_for
from provisioner.dbdump.fileformat import (
    FORMAT,
    KEY_CHECK,
    VERSION,
    DumpUnreadable,
    decode,
    kinds,
    read_lines,
)
from provisioner.keys import ENCRYPTED_COLUMNS
from provisioner.migrate import current_revision, head_revision, upgrade
from provisioner.models import AuditEntry

BATCH = 1000


class RestoreRefused(Exception):
    """Nothing was written; the message says why and what to do."""


@dataclass(frozen=True)
class RestoreResult:
    tables: int
    rows: int
    made_on: str


def _header(path: Path) -> dict[str, Any]:
    for first in read_lines(path):
        if not isinstance(first, dict) or first.get("format") != FORMAT:
            raise DumpUnreadable(f"{path} is not a provisioner dump")
        if first.get("version") != VERSION:
            raise DumpUnreadable(
                f"{path} is a dump of format version {first.get('version')}; this reads {VERSION}"
            )
        return first
    raise DumpUnreadable(f"{path} is empty")


def _sections(path: Path) -> Iterator[tuple[Table, list[list[Any]]]]:
    """Each table of the dump with its rows, in batches; checks names and counts against the models."""
    lines = read_lines(path)
    next(lines)  # the header
    table: Table | None = None
    batch: list[list[Any]] = []
    seen: dict[str, int] = {}
    for line in lines:
        if isinstance(line, list):
            if table is None or len(line) != len(table.columns):
                raise DumpUnreadable(f"{path}: a row does not fit its table; the file is damaged")
            batch.append(line)
            seen[table.name] += 1
            if len(batch) == BATCH:
                yield table, batch
                batch = []
            continue
        if table is not None and batch:
            yield table, batch
            batch = []
        if isinstance(line, dict) and "table" in line:
            table = Base.metadata.tables.get(line["table"])
            if table is None or line.get("columns") != [c.name for c in table.columns]:
                raise DumpUnreadable(f"{path}: the table {line['table']!r} does not match this version's")
            seen[table.name] = 0
            yield table, []
        elif isinstance(line, dict) and line.get("end") is True:
            if line.get("rows") != seen or set(seen) != set(Base.metadata.tables):
                raise DumpUnreadable(f"{path}: the row counts at its end do not match; the file is damaged")
            return
        else:
            raise DumpUnreadable(f"{path}: an unexpected line; the file is damaged")
    raise DumpUnreadable(f"{path} ends before its last line: it was cut off (a full disk, an aborted copy?)")


def check_dump(settings: Settings, *, path: Path) -> dict[str, Any]:
    """Read the whole dump once without writing: whole, of this schema, and open with this key."""
    header = _header(path)
    if header.get("schema") != head_revision():
        raise RestoreRefused(
            f"the dump was made at schema revision {header.get('schema')}, this version has "
            f"{head_revision()}: restore it with the provisioner version that made it, then upgrade"
        )
    ring = settings_keyring(settings)
    wrong_key = RestoreRefused(
        "the secret key does not open this dump's encrypted values: start the restore with the key the "
        "lab used when the dump was made (PROVISIONER_SECRET_KEY_FILE); nothing was written"
    )
    try:
        opened = ring.decrypt(str(header.get("key_check", "")).encode())
    except InvalidToken as exc:
        raise wrong_key from exc
    if opened.decode() != KEY_CHECK:
        raise wrong_key
    ssh_key = header.get("ssh_key")
    if isinstance(ssh_key, dict):
        try:
            ring.decrypt(str(ssh_key.get("private", "")).encode())
        except InvalidToken as exc:
            raise wrong_key from exc
    encrypted = {(c.class_.__tablename__, c.key) for c in ENCRYPTED_COLUMNS}
    for table, rows in _sections(path):
        positions = [i for i, c in enumerate(table.columns) if (table.name, c.name) in encrypted]
        for row in rows:
            for position in positions:
                if row[position] is not None:
                    try:
                        ring.decrypt(str(row[position]).encode())
                    except InvalidToken as exc:
                        raise wrong_key from exc
    return header


def _has_rows(connection: Connection) -> bool:
    return any(
        connection.execute(select(func.count()).select_from(table)).scalar_one()
        for table in Base.metadata.sorted_tables
    )


def _delete_the_lab(connection: Connection) -> None:
    """Every row, for --replace. The audit log's triggers refuse deletes to any caller; the operator's
    explicit replacement of the whole lab is the one they stand aside for, inside this transaction (so
    they are back whatever happens). The audit table refers to no other, so it goes last: on SQLite a
    DELETE has then opened the transaction that the triggers' DROP and CREATE belong to."""
    for table in reversed(Base.metadata.sorted_tables):
        if table is not AuditEntry.__table__:
            connection.execute(delete(table))
    if connection.dialect.name == "postgresql":
        connection.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))
        connection.execute(delete(AuditEntry))
        connection.execute(text("ALTER TABLE audit_entries ENABLE TRIGGER USER"))
        return
    triggers = connection.execute(
        text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_entries'")
    ).all()
    for name, _ in triggers:
        connection.execute(text(f'DROP TRIGGER "{name}"'))
    connection.execute(delete(AuditEntry))
    for _, created in triggers:
        connection.execute(text(created))


def _realign_sequences(connection: Connection) -> None:
    """PostgreSQL's serial counters continue after the restored ids (SQLite derives them from the rows)."""
    for table in Base.metadata.sorted_tables:
        for column in table.primary_key.columns:
            if column.autoincrement is True or (
                column.autoincrement == "auto" and column.type.python_type is int
            ):
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence(:table, :column), "  # noqa: S608 - our own names
                        f"COALESCE((SELECT MAX({column.name}) FROM {table.name}), 0) + 1, false)"
                    ),
                    {"table": table.name, "column": column.name},
                )


def _ssh_key_to_place(settings: Settings, header: dict[str, Any], *, replace: bool) -> tuple[str, str] | None:
    """The dumped SSH key (private, public) when it is to be written; refused over a different key."""
    dumped = header.get("ssh_key")
    if not isinstance(dumped, dict):
        return None
    private = decrypt(settings, str(dumped["private"]))
    where = settings.resolved_ssh_key_path
    if where.is_file() and where.read_text() == private:
        return None  # the lab's key is there already
    if where.is_file() and not replace:
        raise RestoreRefused(
            f"{where} holds another SSH key than the dumped lab's; nothing was written. "
            "Pass --replace to put the lab's key there (the servers know that one)"
        )
    return private, str(dumped.get("public", ""))


def _place_ssh_key(settings: Settings, key: tuple[str, str]) -> None:
    where = settings.resolved_ssh_key_path
    where.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    where.unlink(missing_ok=True)
    where.touch(mode=0o600)
    where.write_text(key[0])
    if key[1]:
        where.with_suffix(".pub").write_text(key[1])


def restore_database(settings: Settings, *, path: Path, replace: bool = False) -> RestoreResult:
    header = check_dump(settings, path=path)
    ssh_key = _ssh_key_to_place(settings, header, replace=replace)
    url = settings.resolved_database_url
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = engine_for(url)
    with engine.connect() as connection:
        revision = current_revision(connection)
    if revision not in (None, head_revision()):
        raise RestoreRefused(
            f"the database is at schema revision {revision}, not {head_revision()}: run "
            "'provisioner db upgrade' first, or restore into an empty database"
        )
    upgrade(url)
    rows = 0
    tables = 0
    with engine.begin() as connection:
        if _has_rows(connection):
            if not replace:
                raise RestoreRefused(
                    "the database already holds a lab; nothing was written. Restore into an empty "
                    "database, or pass --replace to drop what is there in favour of the dump"
                )
            _delete_the_lab(connection)
        for table, batch in _sections(path):
            if not batch:
                tables += 1
                continue
            column_kinds = kinds(table)
            names = [c.key for c in table.columns]
            connection.execute(
                table.insert(),
                [
                    {
                        name: decode(kind, value)
                        for name, kind, value in zip(names, column_kinds, row, strict=True)
                    }
                    for row in batch
                ],
            )
            rows += len(batch)
        if connection.dialect.name == "postgresql":
            _realign_sequences(connection)
    if ssh_key is not None:
        _place_ssh_key(settings, ssh_key)
    return RestoreResult(tables=tables, rows=rows, made_on=str(header.get("database")))
