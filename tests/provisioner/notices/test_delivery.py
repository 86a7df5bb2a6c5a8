"""Notices queued with what they tell of and sent by the worker's delivery over real SMTP (an aiosmtpd sink)
and to a real webhook receiver: each recipient's language, both parts, retries, and the stored account."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from provisioner.accounts.service import create_user
from provisioner.auth.actor import Actor, Role
from provisioner.catalog.base import Localized
from provisioner.catalog.loader import Catalog
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.instances.service import approve_instance, reject_instance
from provisioner.jobs.service import claim_job, create_job, finish_job, owned_job
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.models import Instance, OutgoingNotice, User
from provisioner.notices.channels import NO_MAIL
from provisioner.notices.delivery import MAX_ATTEMPTS, deliver_due
from provisioner.offboarding.service import request_offboarding
from provisioner.servers.bootstrap import bootstrap_server
from provisioner.timeutil import utcnow
from tests.support import factories
from tests.support.smtp_sink import SmtpSink, smtp_sink, store_account
from tests.support.webhook_sink import webhook_sink

STEPS = Localized(de="Meldet euch an.\n\nLegt Konten an.", en="Sign in.\n\nCreate accounts.")
# The homepage template with first steps, as the catalog's larger services have them.
CATALOG = Catalog({"homepage": factories.CATALOG.get("homepage").model_copy(update={"first_steps": STEPS})})

MakeSettings = Callable[..., Settings]  # the fixture in this folder's conftest


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with smtp_sink() as running:
        yield running


def _association(settings: Settings) -> tuple[str, str]:
    """An association writing German by default, with one admin who chose English and one who did not,
    a member (who hears nothing), and its requested homepage. Returns the tenant's and instance's ids."""
    with transaction(settings.resolved_database_url) as session:
        tenant = factories.tenant(session)
        tenant.language = "de"
        factories.server(session)
        for email, role, language in (
            ("kim@verein-a.org", Role.ADMIN, "en"),
            ("uli@verein-a.org", Role.ADMIN, None),
            ("max@verein-a.org", Role.MEMBER, "de"),
        ):
            user = create_user(session, email=email, name="P", password=None, role=role, tenant_id=tenant.id)
            user.language = language
        instance = factories.homepage(session, tenant)
        return tenant.id, instance.id


def _deploy(settings: Settings, instance_id: str, status: JobStatus, error: str | None = None) -> str:
    """Approve and run the deploy as a worker would, ending it with ``status``."""
    url = settings.resolved_database_url
    with transaction(url) as session:
        job = approve_instance(
            session, actor=factories.OPERATOR, catalog=CATALOG, instance_id=instance_id, server_id=None,
            settings=settings,
        )  # fmt: skip
        job_id = job.id
    with transaction(url) as session:
        claim_job(session, job_id=job_id, worker="w1")
    with transaction(url) as session:
        job = owned_job(session, job_id=job_id)
        session.get_one(Instance, instance_id).url = "https://site.lab.example"
        finish_job(session, job=job, status=status, error=error)
    return job_id


def _rows(session: Session, where: ColumnElement[bool]) -> list[OutgoingNotice]:
    return list(session.scalars(select(OutgoingNotice).where(where).order_by(OutgoingNotice.id)))


def _by_recipient(messages: list[EmailMessage], subject_start: str) -> dict[str, EmailMessage]:
    return {str(m["To"]): m for m in messages if str(m["Subject"]).startswith(subject_start)}


def _parts(message: EmailMessage) -> tuple[str, str]:
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None, "a plain-text part"
    assert html is not None, "an HTML alternative"
    return plain.get_content().replace("\r\n", "\n"), html.get_content()


def test_the_ready_mail_reaches_each_admin_in_their_language_with_address_and_first_steps(
    make_settings: MakeSettings, sink: SmtpSink
) -> None:
    settings = make_settings()
    store_account(settings, sink)
    _tenant_id, instance_id = _association(settings)
    _deploy(settings, instance_id, JobStatus.SUCCEEDED)

    sent = deliver_due(settings, CATALOG)

    messages = sink.wait_for(sent)
    german = _by_recipient(messages, "Ihr Dienst ist bereit")
    english = _by_recipient(messages, "Your service is ready")
    assert list(german) == ["uli@verein-a.org"]  # no language of their own: the association's
    assert list(english) == ["kim@verein-a.org"]
    text, html = _parts(german["uli@verein-a.org"])
    assert "https://site.lab.example" in text
    assert "Meldet euch an.\n\nLegt Konten an." in text
    assert f"https://portal.lab.example/services/{instance_id}" in text
    assert '<a href="https://site.lab.example">' in html
    assert "<p>Meldet euch an.</p>" in html
    assert 'lang="de"' in html
    text, html = _parts(english["kim@verein-a.org"])
    assert "Sign in." in text
    assert 'lang="en"' in html
    # The approval was told too, and no member heard of either.
    assert set(_by_recipient(messages, "Anfrage genehmigt")) == {"uli@verein-a.org"}
    assert "max@verein-a.org" not in {str(m["To"]) for m in messages}
    assert all(m["From"] == "lab@lab.example" for m in messages)


def test_a_second_deploy_of_a_running_service_sends_no_second_ready_mail(
    make_settings: MakeSettings, sink: SmtpSink
) -> None:
    settings = make_settings()
    _tenant_id, instance_id = _association(settings)
    _deploy(settings, instance_id, JobStatus.SUCCEEDED)
    with transaction(settings.resolved_database_url) as session:
        instance = session.get_one(Instance, instance_id)
        again = create_job(session, instance=instance, kind=JobKind.DEPLOY)
        claim_job(session, job_id=again.id, worker="w1")
    with transaction(settings.resolved_database_url) as session:
        finish_job(session, job=owned_job(session, job_id=again.id), status=JobStatus.SUCCEEDED)
        assert len(_rows(session, OutgoingNotice.kind == "service_ready")) == 2  # the first deploy's only


def test_a_refusing_mail_server_is_tried_again_after_a_pause_until_it_takes_the_notice(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings()
    with smtp_sink(refuse=2) as sink:
        store_account(settings, sink)
        _tenant_id, instance_id = _association(settings)
        with transaction(settings.resolved_database_url) as session:
            session.execute(update(User).where(User.email == "kim@verein-a.org").values(role="member"))
            reject_instance(session, actor=factories.OPERATOR, instance_id=instance_id, reason="Kein Platz.")

        assert deliver_due(settings, CATALOG) == 0
        with transaction(settings.resolved_database_url) as session:
            [notice] = _rows(session, OutgoingNotice.kind == "request_rejected")
            assert (notice.attempts, notice.sent_at) == (1, None)
            assert notice.due_at is not None
            assert notice.due_at > utcnow()  # a pause before the next try
            assert "451" in (notice.error or "")
        assert deliver_due(settings, CATALOG) == 0  # not due yet: no second try at once
        for _ in range(2):
            _make_due(settings)
            sent = deliver_due(settings, CATALOG)
        assert sent == 1
        [message] = sink.wait_for(1)
    assert message["To"] == "uli@verein-a.org"
    assert message["Subject"] == "Anfrage abgelehnt: site"
    assert "Kein Platz." in _parts(message)[0]
    with transaction(settings.resolved_database_url) as session:
        [notice] = _rows(session, OutgoingNotice.kind == "request_rejected")
        assert (notice.attempts, notice.error, notice.due_at) == (3, None, None)
        assert notice.sent_at is not None


def _make_due(settings: Settings) -> None:
    """As if the pause before the next try had passed."""
    with transaction(settings.resolved_database_url) as session:
        session.execute(
            update(OutgoingNotice)
            .where(OutgoingNotice.due_at.is_not(None))
            .values(due_at=utcnow() - timedelta(seconds=1))
        )


def test_a_notice_is_given_up_after_the_last_try_and_keeps_the_reason(make_settings: MakeSettings) -> None:
    settings = make_settings()
    with smtp_sink(refuse=100) as sink:
        store_account(settings, sink)
        _tenant_id, instance_id = _association(settings)
        with transaction(settings.resolved_database_url) as session:
            reject_instance(session, actor=factories.OPERATOR, instance_id=instance_id, reason="Nein.")
        for _ in range(MAX_ATTEMPTS + 2):
            assert deliver_due(settings, CATALOG) == 0
            _make_due(settings)
        assert sink.messages == []
    with transaction(settings.resolved_database_url) as session:
        rows = _rows(session, OutgoingNotice.kind == "request_rejected")
        assert {(r.attempts, r.due_at, r.sent_at) for r in rows} == {(MAX_ATTEMPTS, None, None)}
        assert all("451" in (r.error or "") for r in rows)


def test_without_a_mail_server_mail_notices_are_given_up_with_that_reason(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings()
    _tenant_id, instance_id = _association(settings)
    with transaction(settings.resolved_database_url) as session:
        reject_instance(session, actor=factories.OPERATOR, instance_id=instance_id, reason="Nein.")
    assert deliver_due(settings, CATALOG) == 0
    with transaction(settings.resolved_database_url) as session:
        rows = _rows(session, OutgoingNotice.kind == "request_rejected")
        assert len(rows) == 2
        assert {(r.error, r.due_at, r.sent_at) for r in rows} == {(NO_MAIL, None, None)}
        assert session.get_one(Instance, instance_id).state == "rejected"  # the rejection itself stands


def test_operators_hear_of_waiting_requests_and_failed_jobs_by_mail_and_by_webhook_text(
    make_settings: MakeSettings, sink: SmtpSink
) -> None:
    with webhook_sink() as (hook_url, received):
        settings = make_settings(alert_operator_emails="ops@lab.example", alert_webhook_url=hook_url)
        store_account(settings, sink)
        with transaction(settings.resolved_database_url) as session:
            # The operator who chose English in the portal gets English; the settings name the address.
            create_user(session, email="ops@lab.example", name="O", password=None, role=Role.OPERATOR,
                        tenant_id=None).language = "en"  # fmt: skip
        _tenant_id, instance_id = _association(settings)
        job_id = _deploy(settings, instance_id, JobStatus.FAILED, error="the proxy did not answer")
        deliver_due(settings, CATALOG)
        messages = sink.wait_for(4)
        posted = [json.loads(body) for _headers, body in received]
    to_ops = _by_recipient(messages, "New request from")
    assert list(to_ops) == ["ops@lab.example"]
    [failed] = [m for m in messages if str(m["Subject"]).startswith("Failed: Setting up of site")]
    text, _html = _parts(failed)
    assert "the proxy did not answer" in text
    assert f"https://portal.lab.example/jobs/{job_id}" in text
    # The webhook carries what chat receivers show as is, in the lab's language, with the ids beside.
    by_kind = {p["kind"]: p for p in posted}
    assert set(by_kind) == {"request_waiting", "job_failed"}
    assert by_kind["job_failed"]["text"].startswith("Fehlgeschlagen: Einrichtung von site")
    assert "the proxy did not answer" in by_kind["job_failed"]["text"]
    assert by_kind["job_failed"]["job_id"] == job_id
    # The association's admins are not told of the operators' failure.
    to_association = [m for m in messages if str(m["To"]).endswith("verein-a.org")]
    assert not [m for m in to_association if "Fehlgeschlagen" in str(m["Subject"])]


def test_two_deliveries_at_once_send_each_notice_once(make_settings: MakeSettings, sink: SmtpSink) -> None:
    settings = make_settings()
    store_account(settings, sink)
    _tenant_id, instance_id = _association(settings)
    _deploy(settings, instance_id, JobStatus.SUCCEEDED)
    with ThreadPoolExecutor(4) as pool:
        counts = list(pool.map(lambda _: deliver_due(settings, CATALOG), range(4)))
    with transaction(settings.resolved_database_url) as session:
        queued = len(_rows(session, OutgoingNotice.recipient != "operators"))
    assert sum(counts) == queued
    assert len(sink.wait_for(queued)) == queued


def test_operators_hear_of_a_failed_server_bootstrap_with_what_failed_and_what_to_do(
    make_settings: MakeSettings, sink: SmtpSink
) -> None:
    with webhook_sink() as (hook_url, received):
        settings = make_settings(alert_operator_emails="ops@lab.example", alert_webhook_url=hook_url)
        store_account(settings, sink)
        url = settings.resolved_database_url
        with transaction(url) as session:
            server = factories.server(session)
            job = bootstrap_server(session, actor=factories.OPERATOR, server_id=server.id)
            job_id, server_id = job.id, server.id
        with transaction(url) as session:
            claim_job(session, job_id=job_id, worker="w1")
        with transaction(url) as session:
            error = "the bootstrap did not finish: fatal: [s1]: FAILED! => no apt source"
            finish_job(session, job=owned_job(session, job_id=job_id), status=JobStatus.FAILED, error=error)
        deliver_due(settings, CATALOG)
        (message,) = sink.wait_for(1)
        posted = [json.loads(body) for _headers, body in received]
    assert str(message["Subject"]) == "Fehlgeschlagen: Einrichtung des Servers s1"
    text, html = _parts(message)
    assert "Die Einrichtung des Servers wurde nicht fertig: fatal: [s1]: FAILED! => no apt source" in text
    assert "Was zu tun ist:" in text
    assert f"https://portal.lab.example/jobs/{job_id}" in text
    assert f'<a href="https://portal.lab.example/jobs/{job_id}">' in html
    [hook] = posted
    assert (hook["kind"], hook["server_id"], hook["job_id"]) == ("server_bootstrap_failed", server_id, job_id)
    assert hook["text"].startswith("Fehlgeschlagen: Einrichtung des Servers s1")


def test_an_admins_request_to_leave_reaches_the_admins_and_operators_with_the_date_and_the_way_back(
    make_settings: MakeSettings, sink: SmtpSink
) -> None:
    settings = make_settings(alert_operator_emails="ops@lab.example", offboarding_wait_hours=72)
    store_account(settings, sink)
    tenant_id, _ = _association(settings)
    with transaction(settings.resolved_database_url) as session:
        admin = Actor(token_id="tok_admin", role=Role.ADMIN, tenant_id=tenant_id)
        asked = request_offboarding(
            session, settings, actor=admin, tenant_id=tenant_id, confirm_slug="verein-a",
            delete_backups_now=False,
        )  # fmt: skip
        until = f"{asked.not_before:%Y-%m-%d %H:%M} UTC"
    deliver_due(settings, CATALOG)
    messages = sink.wait_for(3)
    english = _by_recipient(messages, "Offboarding asked for: verein-a e.V.")
    german = _by_recipient(messages, "Abmeldung beantragt: verein-a e.V.")
    # The operators' address belongs to no account: the lab's language.
    assert (sorted(english), sorted(german)) == (
        ["kim@verein-a.org"],
        ["ops@lab.example", "uli@verein-a.org"],
    )
    text, _html = _parts(german["uli@verein-a.org"])
    assert f"Vor {until} wird nichts gelöscht" in text
    assert f"https://portal.lab.example/associations/{tenant_id}/offboarding" in text
