"""The health sweep against real HTTP and HTTPS servers on loopback standing in for instances' proxies."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from provisioner.alerts.delivery import deliver_pending
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.health.sweep import sweep
from provisioner.models import HealthEvent, Instance, Server
from provisioner.monitoring.metrics import store_ca
from tests.support import factories
from tests.support.health_stub import Stub, health_stub, make_ca, server_context, sweep_settings
from tests.support.running import running_homepage
from tests.support.smtp_sink import SmtpSink, smtp_sink

CATALOG = factories.CATALOG


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with smtp_sink() as running:
        yield running


def _settings(db_url: str, tmp_path: Path, sink: SmtpSink, after_minutes: float = 0) -> Settings:
    return sweep_settings(db_url, tmp_path, smtp=(sink.host, sink.port), after_minutes=after_minutes)


def _place(settings: Settings, stub: Stub, *, tls: str, count: int = 3) -> tuple[str, list[str]]:
    with transaction(settings.resolved_database_url) as session:
        owner = factories.tenant(session)
        server = factories.server(session)
        server.public_address = stub.address
        server.tls_mode = tls
        session.flush()
        ids = [running_homepage(session, owner, server, f"site{n}").id for n in range(count)]
        return server.id, ids


def _health(settings: Settings) -> dict[str, str]:
    with transaction(settings.resolved_database_url) as session:
        return dict(session.execute(select(Instance.name, Instance.health)).all())


def test_sick_and_well_again_each_make_one_event_and_one_message(
    db_url: str, tmp_path: Path, sink: SmtpSink
) -> None:
    settings = _settings(db_url, tmp_path, sink)
    with health_stub() as stub:
        _, ids = _place(settings, stub, tls="off", count=1)
        report = sweep(settings, CATALOG)
        assert report.checked == 1
        assert _health(settings) == {"site0": "healthy"}
        assert stub.hosts == ["site0-verein-a.example.test"], "asked by hostname, as a visitor would"

        stub.set_healthy(False)
        for _ in range(3):
            sweep(settings, CATALOG)
            deliver_pending(settings)
        assert _health(settings) == {"site0": "unhealthy"}
        messages = sink.wait_for(2)
        assert len(messages) == 2  # the operators and the association, once each
        assert {str(m["Subject"]) for m in messages} == {
            "[provisioner] ALARM Dienst gestört: site0 (homepage) antwortet nicht: "
            "antwortete mit HTTP-Status 503"
        }

        sink.clear()
        stub.set_healthy(True)
        for _ in range(3):
            sweep(settings, CATALOG)
            deliver_pending(settings)
        assert _health(settings) == {"site0": "healthy"}
        messages = sink.wait_for(2)
        assert len(messages) == 2
        assert {str(m["Subject"]) for m in messages} == {
            "[provisioner] BEHOBEN Dienst gestört: site0 funktioniert wieder."
        }
    with transaction(settings.resolved_database_url) as session:
        changes = session.execute(
            select(HealthEvent.previous, HealthEvent.current).order_by(HealthEvent.id)
        ).all()
        checked = session.get_one(Instance, ids[0]).health_checked_at
    assert [tuple(c) for c in changes] == [
        ("unknown", "healthy"),
        ("healthy", "unhealthy"),
        ("unhealthy", "healthy"),
    ]
    assert checked is not None


def test_an_alert_waits_for_the_grace_time(db_url: str, tmp_path: Path, sink: SmtpSink) -> None:
    settings = _settings(db_url, tmp_path, sink, after_minutes=5)
    with health_stub() as stub:
        stub.set_healthy(False)
        _place(settings, stub, tls="off", count=2)
        sweep(settings, CATALOG)
        assert deliver_pending(settings) == 0
        with transaction(settings.resolved_database_url) as session:
            for event in session.scalars(select(HealthEvent)):
                event.created_at -= timedelta(minutes=6)
        sweep(settings, CATALOG)
        assert deliver_pending(settings) == 4  # two alerts, to operators and the association
        assert len(sink.wait_for(2)) == 2, "one digest per recipient, not one message per instance"


def test_internal_tls_is_verified_against_the_servers_own_ca(
    db_url: str, tmp_path: Path, sink: SmtpSink
) -> None:
    settings = _settings(db_url, tmp_path, sink)
    proxy_ca, stranger = make_ca("proxy CA"), make_ca("someone else")
    hostnames = [f"site{n}-verein-a.example.test" for n in range(2)]
    with health_stub(server_context(proxy_ca, hostnames, tmp_path)) as stub:
        server_id, _ = _place(settings, stub, tls="internal", count=2)

        sweep(settings, CATALOG)  # the CA could not be fetched: nothing is trusted blindly
        assert set(_health(settings).values()) == {"unhealthy"}

        with transaction(settings.resolved_database_url) as session:
            store_ca(session, server_id, stranger.pem)
        sweep(settings, CATALOG)
        assert set(_health(settings).values()) == {"unhealthy"}

        with transaction(settings.resolved_database_url) as session:
            store_ca(session, server_id, proxy_ca.pem)
        sweep(settings, CATALOG)
        assert _health(settings) == {"site0": "healthy", "site1": "healthy"}
    with transaction(settings.resolved_database_url) as session:
        details = session.scalars(select(HealthEvent.detail).where(HealthEvent.current == "unhealthy")).all()
    assert set(details) == {"its certificate could not be verified"}


def test_only_running_instances_are_asked(db_url: str, tmp_path: Path, sink: SmtpSink) -> None:
    settings = _settings(db_url, tmp_path, sink)
    with health_stub() as stub:
        _, ids = _place(settings, stub, tls="off", count=2)
        with transaction(settings.resolved_database_url) as session:
            session.execute(update(Instance).where(Instance.id == ids[1]).values(state="failed"))
            assert session.scalar(select(Server.tls_mode)) == "off"
        assert sweep(settings, CATALOG).checked == 1
