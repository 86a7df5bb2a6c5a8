"""Alerts: one per condition, told once when opened and once when resolved, close ones as one digest,
over real SMTP (an aiosmtpd sink) and to a real webhook receiver with an HMAC signature."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from provisioner.accounts.service import create_user
from provisioner.alerts import AlertKind, raise_alert, resolve_alert
from provisioner.alerts.delivery import deliver_pending
from provisioner.auth.actor import Role
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.models import Alert, AlertDelivery
from provisioner.notices.channels import SIGNATURE_HEADER, signature
from tests.support import factories
from tests.support.smtp_sink import SmtpSink, plain_text, smtp_sink
from tests.support.webhook_sink import webhook_sink


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with smtp_sink() as running:
        yield running


def _settings(db_url: str, tmp_path: Path, sink: SmtpSink, **more: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path,
        "database_url": db_url,
        "smtp_host": sink.host,
        "smtp_port": sink.port,
        "alert_operator_emails": "ops@lab.example",
        "alert_digest_seconds": 0,
    }
    return Settings.model_validate(values | more)


def _tenant(settings: Settings) -> str:
    with transaction(settings.resolved_database_url) as session:
        return factories.tenant(session).id


def _raise(
    settings: Settings,
    tenant_id: str | None,
    subject: str = "ins_1",
    kind: AlertKind = AlertKind.BACKUP_FAILED,
) -> None:
    with transaction(settings.resolved_database_url) as session:
        raise_alert(
            session, settings, kind=kind, subject_id=subject, tenant_id=tenant_id, summary=f"{subject} failed"
        )


def test_an_alert_raised_again_and_again_is_one_alert_and_one_message_each_to_operators_and_tenant(
    db_url: str, tmp_path: Path, sink: SmtpSink
) -> None:
    settings = _settings(db_url, tmp_path, sink)
    tenant_id = _tenant(settings)
    for _ in range(3):
        _raise(settings, tenant_id)
        deliver_pending(settings)
    messages = sink.wait_for(2)
    assert sorted(str(m["To"]) for m in messages) == ["a@verein-a.org", "ops@lab.example"]
    # Neither address chose a language: the lab's German.
    assert all(
        str(m["Subject"]) == "[provisioner] ALARM Sicherung fehlgeschlagen: ins_1 failed" for m in messages
    )
    assert all(m.get_body(("html",)) is not None for m in messages)
    with transaction(settings.resolved_database_url) as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 1

    sink.clear()
    with transaction(settings.resolved_database_url) as session:
        assert resolve_alert(session, settings, kind=AlertKind.BACKUP_FAILED, subject_id="ins_1") is not None
        assert resolve_alert(session, settings, kind=AlertKind.BACKUP_FAILED, subject_id="ins_1") is None
    deliver_pending(settings)
    deliver_pending(settings)
    messages = sink.wait_for(2)
    assert len(messages) == 2
    # (A long subject may be folded right after "Subject:"; unfolding leaves the space.)
    assert {str(m["Subject"]).strip() for m in messages} == {
        "[provisioner] BEHOBEN Sicherung fehlgeschlagen: resolved: ins_1 failed"
    }

    _raise(settings, tenant_id)  # the same condition again later is a new alert
    with transaction(settings.resolved_database_url) as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 2


def test_changes_close_together_go_out_as_one_digest(db_url: str, tmp_path: Path, sink: SmtpSink) -> None:
    settings = _settings(db_url, tmp_path, sink, alert_digest_seconds=3600)
    _raise(settings, None, "srv_1", AlertKind.SERVER_UNREACHABLE)
    assert deliver_pending(settings) == 1
    for n in range(5):
        _raise(settings, None, f"ins_{n}", AlertKind.INSTANCE_UNHEALTHY)
    assert deliver_pending(settings) == 0, "held: the operator was told something a moment ago"
    assert len(sink.wait_for(1)) == 1

    with transaction(settings.resolved_database_url) as session:  # as if the window had passed
        for row in session.scalars(select(AlertDelivery)):
            row.created_at = row.created_at.replace(year=2000)
            if row.sent_at is not None:
                row.sent_at = row.sent_at.replace(year=2000)
    assert deliver_pending(settings) == 5
    messages = sink.wait_for(2)
    assert len(messages) == 2
    digest = messages[1]
    assert str(digest["Subject"]) == "[provisioner] 5 Alarmmeldungen (5 neu, 0 behoben)"
    body = plain_text(digest)
    assert all(f"ins_{n}" in body for n in range(5))


def test_a_failed_send_is_tried_again_without_sending_twice(db_url: str, tmp_path: Path) -> None:
    with smtp_sink() as sink:
        settings = _settings(db_url, tmp_path, sink)
    _raise(settings, None, "srv_1", AlertKind.DISK_FULL)  # the sink is gone: sending fails
    assert deliver_pending(settings) == 0
    with transaction(settings.resolved_database_url) as session:
        row = session.scalars(select(AlertDelivery)).one()
        assert row.sent_at is None
        assert row.attempts == 1
        assert row.error is not None
    with smtp_sink() as sink:
        settings = settings.model_copy(update={"smtp_port": sink.port})
        assert deliver_pending(settings) == 1
        assert deliver_pending(settings) == 0
        assert len(sink.wait_for(1)) == 1


def test_the_webhook_gets_signed_json(db_url: str, tmp_path: Path, sink: SmtpSink) -> None:
    with webhook_sink() as (url, received):
        settings = _settings(
            db_url, tmp_path, sink, alert_webhook_url=url, alert_webhook_secret="hook-secret-for-tests"
        )
        _raise(settings, None, "srv_1", AlertKind.SERVER_UNREACHABLE)
        deliver_pending(settings)
        assert len(received) == 1
    headers, body = received[0]
    assert headers[SIGNATURE_HEADER] == signature("hook-secret-for-tests", body)
    payload = json.loads(body)
    # Chat receivers (Mattermost, Matrix hookshot, Slack-compatible) show ``text`` as the message.
    assert "[provisioner] ALARM Server nicht erreichbar: srv_1 failed" in payload["text"]
    assert "srv_1" in payload["text"]
    notices = payload["notices"]
    assert [(n["kind"], n["subject"], n["event"]) for n in notices] == [
        ("server_unreachable", "srv_1", "opened")
    ]
    assert "hook-secret" not in body.decode()


def test_a_summary_with_line_breaks_stays_one_subject_line(
    db_url: str, tmp_path: Path, sink: SmtpSink
) -> None:
    settings = _settings(db_url, tmp_path, sink)
    with transaction(settings.resolved_database_url) as session:
        raise_alert(
            session,
            settings,
            kind="update_rolled_back",
            subject_id="ins_9",
            tenant_id=None,
            summary="a\r\nBcc: x@y.z",
        )
    deliver_pending(settings)
    message = sink.wait_for(1)[0]
    assert message["Bcc"] is None
    assert "\n" not in str(message["Subject"])


def test_an_associations_admins_hear_of_its_alerts_in_their_language(
    db_url: str, tmp_path: Path, sink: SmtpSink
) -> None:
    settings = _settings(db_url, tmp_path, sink)
    with transaction(settings.resolved_database_url) as session:
        tenant = factories.tenant(session)
        create_user(session, email="kim@verein-a.org", name="Kim", password=None, role=Role.ADMIN,
                    tenant_id=tenant.id).language = "en"  # fmt: skip
        tenant_id = tenant.id
    _raise(settings, tenant_id)
    deliver_pending(settings)
    by_address = {str(m["To"]): str(m["Subject"]) for m in sink.wait_for(2)}
    # The contact address (a@verein-a.org) is for associations that have no admin yet.
    assert by_address == {
        "kim@verein-a.org": "[provisioner] ALERT backup failed: ins_1 failed",
        "ops@lab.example": "[provisioner] ALARM Sicherung fehlgeschlagen: ins_1 failed",
    }
