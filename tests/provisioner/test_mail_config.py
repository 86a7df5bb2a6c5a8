"""The SMTP account stored in the database overrides the environment; its password is kept encrypted."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.mail import Mail, send_mail
from provisioner.mail_config import configure_mail, mail_settings_for
from tests.support.smtp_sink import smtp_sink


def test_without_a_stored_account_the_environment_settings_are_used(db_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=db_url, smtp_host="env.example")
    with session_factory(db_url)() as session:
        assert mail_settings_for(session, settings) is settings


def test_the_stored_account_is_used_and_its_password_is_not_readable_in_the_database(
    db_url: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=db_url, smtp_host="env.example", smtp_port=2525)
    with smtp_sink() as sink, session_factory(db_url)() as session:
        configure_mail(
            session, settings, host=sink.host, port=sink.port, starttls=False,
            username="", password="the-smtp-password", from_address="verein-lab@example.org",
        )  # fmt: skip
        session.commit()
        raw = session.execute(text("SELECT password_encrypted FROM mail_settings")).scalar_one()
        assert raw
        assert "the-smtp-password" not in raw
        effective = mail_settings_for(session, settings)
        assert (effective.smtp_host, effective.smtp_port) == (sink.host, sink.port)
        assert effective.smtp_password == "the-smtp-password"
        send_mail(effective, Mail(to=("a@example.org",), subject="Test", body="Hallo"))
        [message] = sink.wait_for(1)
    assert message["From"] == "verein-lab@example.org"
