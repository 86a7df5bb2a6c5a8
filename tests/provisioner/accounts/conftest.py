from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from sqlalchemy.orm import Session

from provisioner.config import Settings
from provisioner.db import session_factory
from tests.support.smtp_sink import SmtpSink, plain_text, smtp_sink


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    with session_factory(db_url)() as session:
        yield session


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with smtp_sink() as running:
        yield running


@pytest.fixture
def settings(sink: SmtpSink) -> Settings:
    return Settings(smtp_host=sink.host, smtp_port=sink.port, public_url="https://portal.lab.example")


def link_token(message: EmailMessage, kind: str) -> str:
    """The one-time token of the link (``/invitations/...`` or ``/password-reset/...``) in a mail."""
    found = re.search(rf"https://portal\.lab\.example/{kind}/(\S+)", plain_text(message))
    assert found, plain_text(message)
    return found.group(1)
