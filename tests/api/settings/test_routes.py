"""The lab's mail account and webhook over HTTP: operators only, the contract's errors, and secrets that
go in and never come out (not in answers, logs or the audit log)."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import select

from provisioner.auth.actor import Role
from provisioner.db import session_factory
from provisioner.logs import QUIET
from provisioner.models import AuditEntry, MailSettings
from provisioner.notices.channels import SIGNATURE_HEADER, signature
from tests.api.conftest import Api
from tests.support.smtp_sink import smtp_sink
from tests.support.webhook_sink import webhook_sink

PASSWORD = "smtp-Passw0rd-never-shown"
SECRET = "hook-secret-never-shown"
MAIL = "/api/v1/settings/mail"
WEBHOOK = "/api/v1/settings/webhook"


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    """What the lab's own loggers wrote; httpx's request lines (the URL whole) are kept quiet by
    ``provisioner.logs`` wherever the lab logs, so they are left out here."""
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith(QUIET))


def _nothing_secret_anywhere(api: Api, texts: list[str]) -> None:
    with session_factory(api.db_url)() as session:
        entries = [
            json.dumps([e.action, e.target_id, e.outcome]) for e in session.scalars(select(AuditEntry))
        ]
    for text in texts + entries:
        assert PASSWORD not in text
        assert SECRET not in text
        assert "/hooks/" not in text


def test_only_operators_read_or_change_the_settings(api: Api) -> None:
    _tenant, admin = api.tenant("verein-a")
    member = api.token(role=Role.MEMBER, tenant_id=_tenant)
    for headers in (admin, member):
        for method, path, body in (
            ("GET", MAIL, None), ("PUT", MAIL, {"host": "smtp.x.org", "port": 25, "from_address": "a@x.org"}),
            ("POST", f"{MAIL}/test", {"to": "a@x.org"}), ("GET", WEBHOOK, None),
            ("PUT", WEBHOOK, {"url": "https://chat.x.org/hooks/1"}), ("DELETE", WEBHOOK, None),
            ("POST", f"{WEBHOOK}/test", {}),
        ):  # fmt: skip
            answer = api.client.request(method, path, json=body, headers=headers)
            assert answer.status_code == 403, (method, path, answer.text)
    assert api.client.get(MAIL).status_code == 401


def test_the_mail_account_is_stored_its_password_write_only(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    empty = api.client.get(MAIL, headers=api.operator).json()
    assert (empty["configured"], empty["source"], empty["password_set"]) == (False, "none", False)
    refused = api.client.post(f"{MAIL}/test", json={"to": "ops@lab.example"}, headers=api.operator)
    assert refused.status_code == 409
    assert "no mail server is configured" in refused.json()["detail"]

    account = {"host": "smtp.lab.example", "port": 587, "starttls": True, "username": "lab",
               "password": PASSWORD, "from_address": "lab@lab.example"}  # fmt: skip
    stored = api.client.put(MAIL, json=account, headers=api.operator)
    assert stored.status_code == 200, stored.text
    assert stored.json() == {
        "configured": True, "source": "stored", "host": "smtp.lab.example", "port": 587, "starttls": True,
        "username": "lab", "from_address": "lab@lab.example", "password_set": True,
    }  # fmt: skip
    # Left out, the password is kept; an empty one drops it.
    kept = api.client.put(MAIL, json=account | {"password": None, "port": 25}, headers=api.operator)
    assert (kept.json()["port"], kept.json()["password_set"]) == (25, True)
    with session_factory(api.db_url)() as session:
        row = session.scalars(select(MailSettings)).one()
        assert row.password_encrypted
        assert PASSWORD not in row.password_encrypted
    dropped = api.client.put(MAIL, json=account | {"password": ""}, headers=api.operator)
    assert dropped.json()["password_set"] is False

    bad = api.client.put(MAIL, json=account | {"port": 0, "from_address": "nobody"}, headers=api.operator)
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert {e["field"] for e in bad.json()["errors"]} == {"body.port", "body.from_address"}
    _nothing_secret_anywhere(api, [stored.text, kept.text, bad.text, _logged(caplog)])


def test_a_test_mail_goes_out_through_the_stored_account(api: Api) -> None:
    with smtp_sink() as sink:
        account = {"host": sink.host, "port": sink.port, "starttls": False, "from_address": "lab@lab.example"}
        assert api.client.put(MAIL, json=account, headers=api.operator).status_code == 200
        sent = api.client.post(
            f"{MAIL}/test", json={"to": "ops@lab.example", "language": "en"}, headers=api.operator
        )
        assert sent.status_code == 204, sent.text
        (message,) = sink.wait_for(1)
    assert (message["To"], message["From"]) == ("ops@lab.example", "lab@lab.example")


def test_the_webhook_is_stored_shown_without_its_path_and_tested(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert api.client.post(f"{WEBHOOK}/test", json={}, headers=api.operator).status_code == 409
    with webhook_sink() as (url, received):
        secret_url = url.replace("/hook", "/hooks/abc123")
        stored = api.client.put(WEBHOOK, json={"url": secret_url, "secret": SECRET}, headers=api.operator)
        assert stored.status_code == 200, stored.text
        host = url.split("/")[2]
        assert stored.json() == {
            "configured": True, "source": "stored", "shown_url": f"http://{host}/…", "secret_set": True,
        }  # fmt: skip
        sent = api.client.post(f"{WEBHOOK}/test", json={"language": "en"}, headers=api.operator)
        assert sent.status_code == 204, sent.text
        [(headers, body)] = received
    assert json.loads(body)["text"]
    assert headers[SIGNATURE_HEADER] == signature(SECRET, body)
    bad = api.client.put(WEBHOOK, json={"url": "ftp://chat.example"}, headers=api.operator)
    assert (bad.status_code, [e["field"] for e in bad.json()["errors"]]) == (422, ["body.url"])
    assert api.client.delete(WEBHOOK, headers=api.operator).status_code == 204
    assert api.client.get(WEBHOOK, headers=api.operator).json() == {
        "configured": False, "source": "none", "shown_url": None, "secret_set": False,
    }  # fmt: skip
    _nothing_secret_anywhere(api, [stored.text, bad.text, _logged(caplog)])
