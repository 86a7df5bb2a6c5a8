"""Audit entries as CSV that a spreadsheet opens safely: no cell is taken for a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from provisioner.models import AuditEntry

HEADER = ("time", "actor", "tenant", "action", "target", "client", "status", "outcome")
# A spreadsheet reads a cell starting with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _row(entry: AuditEntry) -> list[str]:
    values = (
        entry.created_at.isoformat(),
        entry.actor,
        entry.tenant_id,
        entry.action,
        entry.target_id,
        entry.client_address,
        entry.status_code,
        entry.outcome,
    )
    return [safe_cell(v) for v in values]


def csv_lines(entries: Iterable[AuditEntry]) -> Iterator[str]:
    """The header, then one line per entry; written as it goes, so a long export is not held in memory."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(cells: list[str]) -> str:
        writer.writerow(cells)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield line(list(HEADER))
    for entry in entries:
        yield line(_row(entry))
