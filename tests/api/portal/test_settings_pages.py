"""The lab's mail account and webhook in the portal, each with a test that goes out at once."""

from __future__ import annotations

import json

from sqlalchemy import select

from provisioner.db import session_factory
from provisioner.mail_config import mail_settings_for
from provisioner.models import MailSettings, WebhookSettings
from provisioner.notices.channels import SIGNATURE_HEADER, signature
from tests.support.portal import People, csrf_of, field_state
from tests.support.smtp_sink import smtp_sink
from tests.support.webhook_sink import webhook_sink


def test_the_mail_account_is_saved_and_a_test_mail_arrives_in_the_pages_language(people: People, api) -> None:  # type: ignore[no-untyped-def]
    page = people.operator.get("/operator/settings").text
    assert "No mail server is set" in page
    token = csrf_of(page)
    refused = people.operator.post("/operator/settings/mail/test", data={"csrf_token": token})
    assert refused.status_code == 409
    assert "The test did not go out." in refused.text
    wrong = people.operator.post(
        "/operator/settings/mail",
        data={"csrf_token": token, "host": "not a host", "port": "0", "from_address": "nobody"},
    )
    assert wrong.status_code == 422
    fields = ("host", "port", "username", "from_address")
    assert {f: field_state(wrong.text, f"field-{f}") for f in fields} == {
        "host": "invalid", "port": "invalid", "username": "valid", "from_address": "invalid",
    }  # fmt: skip
    with smtp_sink() as sink:
        account = {
            "host": sink.host,
            "port": str(sink.port),
            "username": "",
            "from_address": "lab@lab.example",
        }
        saved = people.operator.post("/operator/settings/mail", data={"csrf_token": token, **account})
        assert "The mail account was saved." in saved.text
        assert "No mail server is set" not in saved.text
        sent = people.operator.post(
            "/operator/settings/mail/test", data={"csrf_token": token}, headers={"Accept-Language": "de"}
        )
        assert sent.status_code == 200
        (message,) = sink.wait_for(1)
    assert message["To"] == "op@lab.example"
    assert message["From"] == "lab@lab.example"
    with session_factory(api.db_url)() as session:
        row = session.scalars(select(MailSettings)).one()
        assert (row.host, row.port, row.starttls) == (sink.host, sink.port, False)


def test_an_empty_password_keeps_the_stored_one(people: People, api) -> None:  # type: ignore[no-untyped-def]
    token = csrf_of(people.operator.get("/operator/settings").text)
    account = {
        "host": "smtp.lab.example",
        "port": "587",
        "starttls": "on",
        "username": "lab",
        "from_address": "lab@lab.example",
    }
    people.operator.post(
        "/operator/settings/mail", data={"csrf_token": token, **account, "password": "geheim-1"}
    )
    again = people.operator.post(
        "/operator/settings/mail", data={"csrf_token": token, **account, "password": ""}
    )
    assert "geheim-1" not in again.text
    with session_factory(api.db_url)() as session:
        effective = mail_settings_for(session, api.client.app.state.settings)
        assert (effective.smtp_password, effective.smtp_starttls, effective.smtp_port) == (
            "geheim-1",
            True,
            587,
        )


def test_the_webhook_test_says_plainly_when_there_is_none(people: People) -> None:
    page = people.operator.get("/operator/settings").text
    refused = people.operator.post("/operator/settings/webhook/test", data={"csrf_token": csrf_of(page)})
    assert refused.status_code == 409
    assert "No webhook is set" in refused.text
    assert people.operator.post("/operator/settings/webhook/test", data={}).status_code == 403, (
        "no CSRF token"
    )
    assert people.admin_a.get("/operator/settings").status_code == 403


def test_a_webhook_is_saved_shown_without_its_key_tested_and_removed(people: People, api) -> None:  # type: ignore[no-untyped-def]
    token = csrf_of(people.operator.get("/operator/settings").text)
    wrong = people.operator.post("/operator/settings/webhook", data={"csrf_token": token, "url": "chat room"})
    assert wrong.status_code == 422
    assert field_state(wrong.text, "field-url") == "invalid"
    with webhook_sink() as (url, received):
        saved = people.operator.post(
            "/operator/settings/webhook", data={"csrf_token": token, "url": url, "secret": "hook-secret-3"}
        )
        assert "The webhook was saved." in saved.text
        assert url not in saved.text  # its path is the room's key
        assert "hook-secret-3" not in saved.text
        assert "http://127.0.0.1:" in saved.text
        sent = people.operator.post(
            "/operator/settings/webhook/test", data={"csrf_token": token}, headers={"Accept-Language": "de"}
        )
        assert sent.status_code == 200
        assert 'role="status"' in sent.text
        [(headers, body)] = received
    assert json.loads(body)["text"].startswith("Testnachricht vom Provisioner")
    assert headers[SIGNATURE_HEADER] == signature("hook-secret-3", body)
    removed = people.operator.post("/operator/settings/webhook/remove", data={"csrf_token": token})
    assert "The webhook was removed." in removed.text
    assert "No webhook is set." in removed.text
    with session_factory(api.db_url)() as session:
        assert session.scalars(select(WebhookSettings)).first() is None
