"""Measured footprints: the newest recent collection of the instance's server, else its reservation."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.instances.footprint import measured, measured_by_tenant, reserved, total
from provisioner.models import Instance, Server, ServerMetric
from provisioner.timeutil import utcnow
from tests.support import factories

INTERVAL = 300.0


def _metric(session: Session, server: Server, minutes_ago: float, instances: dict, *, reachable=True) -> None:  # type: ignore[no-untyped-def, type-arg]
    session.add(
        ServerMetric(
            server_id=server.id,
            collected_at=utcnow() - timedelta(minutes=minutes_ago),
            reachable=reachable,
            instances=instances,
        )
    )


def _placed(session: Session, server: Server, name: str) -> Instance:
    row = factories.homepage(session, factories.tenant(session, f"verein-{name}"), name)
    row.server = server
    return row


def test_the_newest_recent_collection_is_used_and_the_rest_fall_back(db_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=db_url, metrics_interval_seconds=INTERVAL)
    with session_factory(db_url)() as session:
        fresh, stale = factories.server(session, "fresh"), factories.server(session, "stale")
        on_fresh, quiet, on_stale = (_placed(session, fresh, n) for n in ("a", "b", "c"))
        unplaced = factories.homepage(session, factories.tenant(session, "verein-d"), "d")
        figures = {"cpu_percent": 25.0, "memory_mb": 300.0, "disk_mb": 2048.0}
        _metric(session, fresh, 12, {on_fresh.id: figures | {"cpu_percent": 90.0}})
        _metric(session, fresh, 2, {on_fresh.id: figures, quiet.id: {"cpu_percent": 1.0, "memory_mb": 5.0}})
        _metric(session, fresh, 1, {}, reachable=False)  # an unreachable server measured nothing
        _metric(session, stale, 3 * INTERVAL / 60 + 1, {on_stale.id: figures})  # older than 3 intervals
        session.commit()

        found = measured(session, settings, [on_fresh, quiet, on_stale, unplaced])

        assert set(found) == {on_fresh.id}, "no disk figure, too old, or not placed: the reservation stands"
        mine = found[on_fresh.id]
        assert (mine.cpu, mine.memory_mb, mine.disk_gb, mine.measured) == (0.25, 300.0, 2.0, True)
        assert mine.measured_at is not None
        assert abs((utcnow() - mine.measured_at) - timedelta(minutes=2)) < timedelta(seconds=30)
        assert mine.watts == 0.25 * 2.12 + 300 / 1024 * 0.392 + 2 * 0.0012
        held = reserved(factories.CATALOG, quiet)
        assert not held.measured
        assert held.measured_at is None


def test_a_total_sums_and_keeps_its_oldest_measurement(db_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=db_url, metrics_interval_seconds=INTERVAL)
    with session_factory(db_url)() as session:
        one, two = factories.server(session, "one"), factories.server(session, "two")
        a, b = _placed(session, one, "a"), _placed(session, two, "b")
        _metric(session, one, 1, {a.id: {"cpu_percent": 10.0, "memory_mb": 100.0, "disk_mb": 512.0}})
        _metric(session, two, 8, {b.id: {"cpu_percent": 30.0, "memory_mb": 50.0, "disk_mb": 1536.0}})
        session.commit()
        found = measured(session, settings, [a, b])
    summed = total(found.values())
    assert (round(summed.cpu, 6), summed.memory_mb, summed.disk_gb) == (0.4, 150.0, 2.0)
    assert summed.measured
    assert summed.measured_at == found[b.id].measured_at
    assert not total([]).measured


def test_tenant_totals_sum_each_tenants_own_and_only_an_operator_sees_every_tenant(
    db_url: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=db_url, metrics_interval_seconds=INTERVAL)
    with session_factory(db_url)() as session:
        server = factories.server(session)
        first, second = factories.tenant(session, "verein-x"), factories.tenant(session, "verein-y")
        rows = [
            factories.homepage(session, owner, name)
            for owner, name in ((first, "a"), (first, "b"), (second, "c"))
        ]
        for row in rows:
            row.server = server
        figures = {"cpu_percent": 10.0, "memory_mb": 100.0, "disk_mb": 1024.0}
        _metric(session, server, 1, {row.id: figures for row in rows})
        session.commit()

        everyone = measured_by_tenant(session, settings, actor=factories.OPERATOR)
        own = measured_by_tenant(session, settings, actor=factories.admin_of(second))

    assert set(everyone) == {first.id, second.id}
    assert (round(everyone[first.id].cpu, 6), everyone[first.id].memory_mb) == (0.2, 200.0)
    assert everyone[first.id].disk_gb == 2.0
    assert set(own) == {second.id}, "an association's admin sees no other association's use"
    assert own[second.id].memory_mb == 100.0
