"""The dump file: gzip-compressed JSON lines, the same for SQLite and PostgreSQL.

Line one is the header (format, schema revision, the kind of database it came from, and a value
encrypted with the lab's secret key, so a restore can tell a wrong key before it writes anything);
then, per table, a line naming it and its columns followed by one JSON array per row; the last line
counts the rows of every table, so a cut-off file is refused instead of restored in part.

Encrypted columns are dumped as they are stored, still encrypted: the dump alone opens no secret.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Literal

from sqlalchemy import Column, LargeBinary, Table

from provisioner.db import UTCDateTime

FORMAT = "provisioner-dump"
VERSION = 1
KEY_CHECK = "provisioner dump key check"

ValueKind = Literal["datetime", "bytes", "plain"]


class DumpUnreadable(Exception):
    """The file is not a complete dump this version can read; the message says why."""


def value_kind(column: Column[Any]) -> ValueKind:
    if isinstance(column.type, UTCDateTime):
        return "datetime"
    if isinstance(column.type, LargeBinary):
        return "bytes"
    # JSON and the scalar types travel as JSON values of their own.
    return "plain"


def encode(kind: ValueKind, value: Any) -> Any:
    if value is None:
        return None
    if kind == "datetime":
        return value.isoformat()
    if kind == "bytes":
        return base64.b64encode(value).decode()
    return value


def decode(kind: ValueKind, value: Any) -> Any:
    if value is None:
        return None
    if kind == "datetime":
        return datetime.fromisoformat(value)
    if kind == "bytes":
        return base64.b64decode(value)
    return value


def kinds(table: Table) -> list[ValueKind]:
    return [value_kind(column) for column in table.columns]


def open_for_writing(path: Path) -> IO[str]:
    # Created 0600 before anything is written: the dump holds password hashes and encrypted secrets.
    path.touch(mode=0o600, exist_ok=False)
    return gzip.open(path, "wt", encoding="utf-8")


def write_line(out: IO[str], value: object) -> None:
    out.write(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
    out.write("\n")


def read_lines(path: Path) -> Iterator[Any]:
    """Every line of the dump, parsed; a damaged or foreign file raises ``DumpUnreadable``."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                try:
                    yield json.loads(line)
                except ValueError as exc:
                    raise DumpUnreadable(f"{path}: line {number} is not JSON; the file is damaged") from exc
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise DumpUnreadable(f"{path} is not a readable dump ({exc})") from exc
