"""The health sweep asks each running space at its own address with its template's space check, stores
the answer on the space and alerts on it as on an instance: against a real HTTP server on loopback
standing in for the shared instance's proxy."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from provisioner.alerts.delivery import deliver_pending
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.health.spaces import RUNNING
from provisioner.health.sweep import sweep
from provisioner.models import Alert, Instance, Space
from provisioner.spaces.states import SpaceState
from tests.support import factories
from tests.support.health_stub import Stub, health_stub, sweep_settings
from tests.support.running import running_blog
from tests.support.smtp_sink import SmtpSink, smtp_sink

CATALOG = factories.CATALOG


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with smtp_sink() as running:
        yield running


def _settings(db_url: str, tmp_path: Path, sink: SmtpSink, after_minutes: float = 0) -> Settings:
    return sweep_settings(db_url, tmp_path, smtp=(sink.host, sink.port), after_minutes=after_minutes)


def _spaces(settings: Settings, stub: Stub, *, state: str = "running") -> dict[str, str]:
    """A running shared WordPress with a space of two associations; hostname -> space id."""
    with transaction(settings.resolved_database_url) as session:
        lab = factories.tenant(session, "lab")
        server = factories.server(session)
        server.public_address, server.tls_mode = stub.address, "off"
        shared = running_blog(session, lab, server, "shared")
        shared.shared = True
        found = {}
        for slug in ("verein-a", "verein-b"):
            owner = factories.tenant(session, slug)
            space = Space(
                tenant_id=owner.id, template="wordpress", name="site", state=state,
                subdomain=f"site-{slug}", domain="example.test", url=f"http://site-{slug}.example.test/",
                instance_id=shared.id,
            )  # fmt: skip
            session.add(space)
            session.flush()
            found[f"site-{slug}.example.test"] = space.id
        return found


def _health(settings: Settings) -> dict[str, str]:
    with transaction(settings.resolved_database_url) as session:
        spaces = dict(session.execute(select(Space.subdomain, Space.health)).all())
        return spaces | dict(session.execute(select(Instance.name, Instance.health)).all())


def test_each_space_is_asked_at_its_own_address_and_alerted_on_alone(
    db_url: str, tmp_path: Path, sink: SmtpSink
) -> None:
    settings = _settings(db_url, tmp_path, sink)
    with health_stub() as stub:
        ids = _spaces(settings, stub)
        assert sweep(settings, CATALOG).checked == 3
        assert _health(settings) == {
            "site-verein-a": "healthy",
            "site-verein-b": "healthy",
            "shared": "healthy",
        }
        # The template's check for a space (sharing.shared.health), by the space's own hostname.
        assert sorted(stub.asked) == [
            ("shared-lab.example.test", "/wp-admin/install.php"),  # the instance's own check
            ("site-verein-a.example.test", "/wp-login.php"),
            ("site-verein-b.example.test", "/wp-login.php"),
        ]

        stub.set_host_healthy("site-verein-a.example.test", False)
        for _ in range(2):
            sweep(settings, CATALOG)
            deliver_pending(settings)
        assert _health(settings) == {
            "site-verein-a": "unhealthy", "site-verein-b": "healthy", "shared": "healthy",
        }  # fmt: skip
        messages = sink.wait_for(2)
        # The lab's operators and verein-a's contact, once each; verein-b hears nothing of it.
        assert sorted(str(m["To"]) for m in messages) == ["a@verein-a.org", "ops@lab.example"]
        assert {str(m["Subject"]) for m in messages} == {
            "[provisioner] ALARM Bereich gestört: site (wordpress) antwortet nicht: "
            "antwortete mit HTTP-Status 503"
        }

        sink.clear()
        stub.set_host_healthy("site-verein-a.example.test", True)
        sweep(settings, CATALOG)
        deliver_pending(settings)
        assert _health(settings)["site-verein-a"] == "healthy"
        assert {str(m["Subject"]) for m in sink.wait_for(2)} == {
            "[provisioner] BEHOBEN Bereich gestört: site funktioniert wieder."
        }
    with transaction(settings.resolved_database_url) as session:
        space = session.get_one(Space, ids["site-verein-a.example.test"])
        assert space.health_checked_at is not None
        assert space.unhealthy_since is None
        assert session.scalar(select(Alert.status).where(Alert.subject_id == space.id)) == "resolved"


def test_a_spaces_alert_waits_for_the_grace_time(db_url: str, tmp_path: Path, sink: SmtpSink) -> None:
    settings = _settings(db_url, tmp_path, sink, after_minutes=5)
    with health_stub() as stub:
        _spaces(settings, stub)
        stub.set_host_healthy("site-verein-b.example.test", False)
        sweep(settings, CATALOG)
        assert deliver_pending(settings) == 0
        with transaction(settings.resolved_database_url) as session:
            for space in session.scalars(select(Space).where(Space.unhealthy_since.is_not(None))):
                space.unhealthy_since -= timedelta(minutes=6)  # type: ignore[operator]
        sweep(settings, CATALOG)
        assert deliver_pending(settings) == 2  # the operators and verein-b


def test_spaces_not_running_are_not_asked(db_url: str, tmp_path: Path, sink: SmtpSink) -> None:
    settings = _settings(db_url, tmp_path, sink)
    with health_stub() as stub:
        _spaces(settings, stub, state="creating")
        assert sweep(settings, CATALOG).checked == 1
        assert [host for host, _path in stub.asked] == ["shared-lab.example.test"]


def test_the_state_asked_for_is_a_spaces_running_state() -> None:
    assert SpaceState.RUNNING.value == RUNNING
