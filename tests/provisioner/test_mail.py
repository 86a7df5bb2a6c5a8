from __future__ import annotations

import pytest

from provisioner.config import Settings
from provisioner.mail import Mail, MailError, send_mail
from tests.support.smtp_sink import smtp_sink


def test_a_message_reaches_a_real_smtp_server() -> None:
    with smtp_sink() as sink:
        settings = Settings(smtp_host=sink.host, smtp_port=sink.port, smtp_from="lab@example.org")
        send_mail(settings, Mail(to=("admin@verein.example",), subject="Willkommen", body="Hallo ümlaut"))
        [message] = sink.wait_for(1)
    assert message["To"] == "admin@verein.example"
    assert message["From"] == "lab@example.org"
    assert message["Subject"] == "Willkommen"
    assert message.get_content().strip() == "Hallo ümlaut"


def test_without_a_host_nothing_is_sent() -> None:
    send_mail(Settings(smtp_host=""), Mail(to=("a@example.org",), subject="s", body="b"))


def test_an_unreachable_server_names_itself_but_not_the_password() -> None:
    settings = Settings(smtp_host="127.0.0.1", smtp_port=1, smtp_username="u", smtp_password="hunter2-secret")
    with pytest.raises(MailError, match=r"127\.0\.0\.1:1") as caught:
        send_mail(settings, Mail(to=("a@example.org",), subject="s", body="b"))
    assert "hunter2-secret" not in str(caught.value)


def test_a_newline_in_the_subject_is_refused() -> None:
    with smtp_sink() as sink:
        settings = Settings(smtp_host=sink.host, smtp_port=sink.port)
        with pytest.raises(ValueError, match=r"newline|linefeed|CR|LF"):
            send_mail(settings, Mail(to=("a@example.org",), subject="hi\nBcc: x@evil.example", body="b"))
        assert sink.messages == []
