"""The lab's SMTP account as stored by `provisioner mail configure` is the one every sender uses, and the
"send a test" of the settings page reaches a real SMTP sink and a real webhook receiver."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from provisioner.accounts.service import invite, reset_password_for
from provisioner.alerts import AlertKind, raise_alert
from provisioner.alerts.delivery import deliver_pending
from provisioner.auth.actor import Role
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.errors import Conflict, ServiceUnavailable
from provisioner.mail_config import configure_mail, configure_webhook, remove_webhook
from provisioner.models import Tenant
from provisioner.notices.channels import (
    NO_MAIL,
    NO_WEBHOOK,
    SIGNATURE_HEADER,
    mail_configured,
    send_test_mail,
    send_test_webhook,
    shown_webhook,
    signature,
    webhook_configured,
)
from tests.support import factories
from tests.support.portal import make_user
from tests.support.smtp_sink import smtp_sink, store_account
from tests.support.webhook_sink import webhook_sink

MakeSettings = Callable[..., Settings]  # the fixture in this folder's conftest


def test_invitations_resets_and_alerts_go_through_the_stored_account_not_only_the_environment(
    make_settings: MakeSettings,
) -> None:
    # The environment names no mail server at all: before, nothing was sent although an account was stored.
    settings = make_settings(alert_operator_emails="ops@lab.example", alert_digest_seconds=0)
    with smtp_sink() as sink:
        store_account(settings, sink)
        with transaction(settings.resolved_database_url) as session:
            assert mail_configured(session, settings)
            tenant = factories.tenant(session)
            invited = invite(
                session, settings, actor=factories.OPERATOR, tenant_id=tenant.id, email="neu@verein-a.org",
                role=Role.ADMIN,
            )  # fmt: skip
            assert (invited.handed.mailed, invited.handed.link) == (True, None)
            tenant_id = tenant.id
        user_id = make_user(
            settings.resolved_database_url, email="kim@verein-a.org", role="member", tenant_id=tenant_id
        )
        with transaction(settings.resolved_database_url) as session:
            handed = reset_password_for(session, settings, actor=factories.OPERATOR, user_id=user_id)
            assert (handed.mailed, handed.link) == (True, None)
            raise_alert(
                session, settings, kind=AlertKind.SERVER_UNREACHABLE, subject_id="srv_1", tenant_id=None,
                summary="srv_1 does not answer",
            )  # fmt: skip
        deliver_pending(settings)
        messages = sink.wait_for(3)
    assert {str(m["To"]) for m in messages} == {"neu@verein-a.org", "kim@verein-a.org", "ops@lab.example"}
    assert {str(m["From"]) for m in messages} == {"lab@lab.example"}


def test_without_a_mail_server_whoever_invites_or_resets_gets_the_one_time_link(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings()
    with transaction(settings.resolved_database_url) as session:
        assert not mail_configured(session, settings)
        tenant = factories.tenant(session)
        invited = invite(
            session, settings, actor=factories.OPERATOR, tenant_id=tenant.id, email="neu@verein-a.org",
            role=Role.ADMIN,
        )  # fmt: skip
        tenant_id = tenant.id
    assert invited.handed.mailed is False
    assert invited.handed.link is not None
    assert invited.handed.link.startswith("https://portal.lab.example/invitations/")
    assert invited.handed.link.rpartition("/")[2] not in invited.invitation.token_hash  # stored as a digest
    user_id = make_user(
        settings.resolved_database_url, email="kim@verein-a.org", role="member", tenant_id=tenant_id
    )
    with transaction(settings.resolved_database_url) as session:
        tenant = session.get_one(Tenant, tenant_id)
        handed = reset_password_for(session, settings, actor=factories.admin_of(tenant), user_id=user_id)
    assert handed.mailed is False
    assert handed.link is not None
    assert handed.link.startswith("https://portal.lab.example/password-reset/")


def test_a_test_mail_arrives_in_the_language_asked_for_with_both_parts(make_settings: MakeSettings) -> None:
    settings = make_settings()
    with smtp_sink() as sink:
        store_account(settings, sink)
        with transaction(settings.resolved_database_url) as session:
            send_test_mail(session, settings, to="ops@lab.example", language="de")
            send_test_mail(session, settings, to="ops@lab.example", language="en")
        german, english = sink.wait_for(2)
    assert german["Subject"] == "Testnachricht vom Provisioner"
    assert english["Subject"] == "Test message from the provisioner"
    assert german.get_body(("html",)) is not None
    assert german.get_body(("plain",)) is not None


def test_a_test_mail_without_a_server_or_to_a_dead_one_says_why(make_settings: MakeSettings) -> None:
    settings = make_settings()
    with transaction(settings.resolved_database_url) as session:
        with pytest.raises(Conflict, match="no mail server is configured"):
            send_test_mail(session, settings, to="ops@lab.example", language="en")
        configure_mail(
            session, settings, host="127.0.0.1", port=1, starttls=False, username="lab", password="smtp-pw-9",
            from_address="lab@lab.example",
        )  # fmt: skip
        with pytest.raises(ServiceUnavailable, match=r"127\.0\.0\.1:1") as caught:
            send_test_mail(session, settings, to="ops@lab.example", language="en")
    assert "smtp-pw-9" not in str(caught.value)
    assert NO_MAIL.startswith("no mail server")


def test_a_test_webhook_carries_text_chat_receivers_show_and_is_signed(make_settings: MakeSettings) -> None:
    with webhook_sink() as (url, received):
        settings = make_settings(alert_webhook_url=url, alert_webhook_secret="hook-secret-1")
        with transaction(settings.resolved_database_url) as session:
            send_test_webhook(session, settings, language="en")
    [(headers, body)] = received
    assert headers[SIGNATURE_HEADER] == signature("hook-secret-1", body)
    payload = json.loads(body)
    assert payload["text"].startswith("Test message from the provisioner")
    assert payload["kind"] == "test"


def test_a_test_webhook_without_a_url_or_to_a_failing_one_says_why(make_settings: MakeSettings) -> None:
    settings = make_settings()
    with transaction(settings.resolved_database_url) as session:
        with pytest.raises(Conflict, match=NO_WEBHOOK.split("(")[0].strip()):
            send_test_webhook(session, settings, language="de")
        with webhook_sink(status=500) as (url, _received):
            configure_webhook(session, settings, url=url, secret=None)
            with pytest.raises(ServiceUnavailable, match="500"):
                send_test_webhook(session, settings, language="de")


def test_the_stored_webhook_takes_the_place_of_the_environments_for_every_sender(
    make_settings: MakeSettings,
) -> None:
    """Stored encrypted (its path is the room's key); alerts and notices for operators go to it, signed
    with the stored secret; removing it falls back to the machine's settings."""
    with webhook_sink() as (stored_url, received), webhook_sink() as (machine_url, machine_received):
        settings = make_settings(alert_webhook_url=machine_url, alert_digest_seconds=0)
        with transaction(settings.resolved_database_url) as session:
            row = configure_webhook(session, settings, url=stored_url, secret="hook-secret-2")
            assert stored_url not in row.url_encrypted
            assert "hook-secret-2" not in (row.secret_encrypted or "")
            assert webhook_configured(session, settings)
            raise_alert(
                session, settings, kind=AlertKind.SERVER_UNREACHABLE, subject_id="srv_1", tenant_id=None,
                summary="srv_1 does not answer",
            )  # fmt: skip
        deliver_pending(settings)
        with transaction(settings.resolved_database_url) as session:
            configure_webhook(session, settings, url=stored_url, secret=None)  # the secret is kept
            send_test_webhook(session, settings, language="de")
            remove_webhook(session)
            send_test_webhook(session, settings, language="de")
    assert len(received) == 2
    assert json.loads(received[1][1])["kind"] == "test"
    for headers, body in received:
        assert headers[SIGNATURE_HEADER] == signature("hook-secret-2", body)
    assert "srv_1 does not answer" in json.loads(received[0][1])["text"]
    assert [json.loads(body)["kind"] for _headers, body in machine_received] == ["test"]
    assert shown_webhook("https://chat.lab.example/hooks/abc123") == "https://chat.lab.example/…"
