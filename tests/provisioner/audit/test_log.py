"""The audit table is append-only in the database itself, and its CSV never hands a spreadsheet a formula."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError

from provisioner.audit.export import HEADER, csv_lines, safe_cell
from provisioner.audit.log import Action, record, record_cli
from provisioner.db import session_factory
from provisioner.models import AuditEntry
from tests.support import factories


def test_the_database_refuses_to_change_or_delete_an_entry(db_url: str) -> None:
    with session_factory(db_url)() as session:
        entry = record(session, Action(actor="tok_1", action="create_tenant", outcome="success"))
        session.commit()
        for statement in (
            update(AuditEntry).where(AuditEntry.id == entry.id).values(outcome="forged"),
            delete(AuditEntry).where(AuditEntry.id == entry.id),
        ):
            with pytest.raises(DBAPIError, match="append-only"):
                session.execute(statement)
            session.rollback()
        assert session.get_one(AuditEntry, entry.id).outcome == "success"


def test_truncate_is_refused_on_postgresql(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has no TRUNCATE")
    with session_factory(db_url)() as session:
        record(session, Action(actor="tok_1", action="create_tenant"))
        session.commit()
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text("TRUNCATE audit_entries"))


def test_a_cli_entry_names_the_tenant_of_its_target(db_url: str) -> None:
    with session_factory(db_url)() as session:
        owner = factories.tenant(session)
        instance = factories.homepage(session, owner)
        entry = record_cli(session, "reset_credentials", target_id=instance.id)
    assert (entry.actor, entry.tenant_id, entry.outcome) == ("cli", owner.id, "success")


@pytest.mark.parametrize("value", ['=HYPERLINK("http://x")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_cells_a_spreadsheet_would_take_for_formulas_are_quoted(value: str) -> None:
    assert safe_cell(value) == "'" + value


def test_plain_cells_stay_as_they_are() -> None:
    assert safe_cell("create_tenant") == "create_tenant"
    assert safe_cell(None) == ""
    assert safe_cell(201) == "201"


def test_the_csv_has_its_header_and_one_line_per_entry(db_url: str) -> None:
    with session_factory(db_url)() as session:
        record(session, Action(actor="=cmd|' /C calc'!A0", action="create_tenant", status_code=201))
        lines = list(csv_lines(session.query(AuditEntry).all()))
    assert lines[0] == ",".join(HEADER) + "\r\n"
    assert len(lines) == 2
    assert ",'=cmd|' /C calc'!A0," in lines[1]
