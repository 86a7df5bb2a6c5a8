"""A real SMTP server on loopback (aiosmtpd) that keeps every message it receives."""

from __future__ import annotations

import email
import email.policy
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session

from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.mail_config import configure_mail
from tests.support.stack import free_port


class _Keeper:
    def __init__(self, refuse: int = 0) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()
        self.refuse = refuse

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        with self.lock:
            if self.refuse > 0:  # a mail server having a bad moment: senders are to try again later
                self.refuse -= 1
                return "451 4.3.0 try again later"
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append(parsed)
        return "250 OK"


class SmtpSink:
    def __init__(self, keeper: _Keeper, host: str, port: int) -> None:
        self._keeper = keeper
        self.host = host
        self.port = port

    @property
    def messages(self) -> list[EmailMessage]:
        with self._keeper.lock:
            return list(self._keeper.messages)

    def clear(self) -> None:
        with self._keeper.lock:
            self._keeper.messages.clear()

    def wait_for(self, count: int, *, timeout: float = 30.0, to: str | None = None) -> list[EmailMessage]:
        """The messages (``to`` one address, if given) once at least ``count`` of them arrived; fails with
        what did arrive otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.messages if to is None or str(m["To"]) == to]
            if len(found) >= count:
                return found
            time.sleep(0.1)
        subjects = [str(m["Subject"]) for m in self.messages]
        raise AssertionError(f"expected {count} messages within {timeout} s, got {subjects}")

    def env(self) -> dict[str, str]:
        """Settings that point the provisioner at this sink."""
        return {"PROVISIONER_SMTP_HOST": self.host, "PROVISIONER_SMTP_PORT": str(self.port)}


@contextmanager
def smtp_sink(host: str = "127.0.0.1", *, refuse: int = 0) -> Iterator[SmtpSink]:
    """On loopback, or on ``host`` (the Docker bridge's address, for services in containers); the first
    ``refuse`` messages are answered with a temporary failure."""
    keeper = _Keeper(refuse)
    port = free_port()
    controller = Controller(keeper, hostname=host, port=port)
    controller.start()
    try:
        yield SmtpSink(keeper, host, port)
    finally:
        controller.stop()


def store_account(settings: Settings, sink: SmtpSink) -> None:
    """Point the lab's stored SMTP account (as `provisioner mail configure` does) at ``sink``."""
    with transaction(settings.resolved_database_url) as session:
        configure_mail(
            session, settings, host=sink.host, port=sink.port, starttls=False, username="", password=None,
            from_address="lab@lab.example",
        )  # fmt: skip


def plain_text(message: EmailMessage) -> str:
    """The plain-text part of a message (the whole body when it has no alternative), with \\n line ends."""
    part = message.get_body(("plain",))
    assert part is not None, "the message has a plain-text part"
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")
