"""What the charts read: an instance's footprint at each collection, servers' memory and disk over time,
and an instance's health as stretches of time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.models import HealthEvent, Instance, InstanceMetric
from provisioner.monitoring.history import Span, health_spans, instance_history, server_histories
from provisioner.monitoring.metrics import KEEP, Collection, record
from provisioner.timeutil import utcnow
from tests.support import factories


def _placed(db_url: str) -> tuple[str, str]:
    with transaction(db_url) as session:
        server = factories.server(session)
        instance = factories.homepage(session, factories.tenant(session))
        instance.server = server
        session.flush()
        return server.id, instance.id


def test_each_collection_keeps_each_instances_footprint_for_its_page(db_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=db_url)
    server_id, instance_id = _placed(db_url)
    figures = [
        {"cpu_percent": 50.0, "memory_mb": 100.0, "disk_mb": 1024.0},
        {"cpu_percent": 150.0, "memory_mb": 300.0},  # du ran out of time: no disk figure
    ]
    for found in figures:
        collection = Collection(
            reachable=True,
            disk_total_mb=4000,
            disk_used_mb=1000,
            memory_total_mb=2048,
            memory_available_mb=1024,
            instances={instance_id: found},
        )
        with transaction(db_url) as session:
            record(session, settings, server_id, collection)
    with transaction(db_url) as session:
        instance = session.get(Instance, instance_id)
        assert instance is not None
        history = instance_history(session, instance=instance, since=utcnow() - KEEP)
        servers = server_histories(session, [server_id], since=utcnow() - KEEP)
    assert [s.value for s in history.cpu] == [0.5, 1.5]
    assert [s.value for s in history.memory_mb] == [100.0, 300.0]
    assert [s.value for s in history.disk_mb] == [1024.0]
    assert [s.value for s in servers[server_id].services_cpu] == [0.5, 1.5]
    assert [s.value for s in servers[server_id].memory_used_mb] == [1024, 1024]
    assert [s.value for s in servers[server_id].disk_used_mb] == [1000, 1000]
    assert (servers[server_id].memory_total_mb, servers[server_id].disk_total_mb) == (2048, 4000)


def test_an_instances_footprint_is_kept_as_long_as_its_servers_collections(
    db_url: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=db_url)
    server_id, instance_id = _placed(db_url)
    with transaction(db_url) as session:
        old = utcnow() - KEEP - timedelta(hours=1)
        session.add(
            InstanceMetric(
                instance_id=instance_id, server_id=server_id, collected_at=old, cpu_percent=1, memory_mb=1
            )
        )
    with transaction(db_url) as session:
        record(
            session,
            settings,
            server_id,
            Collection(reachable=True, instances={instance_id: {"cpu_percent": 2.0, "memory_mb": 2.0}}),
        )
    with transaction(db_url) as session:
        kept = session.scalars(select(InstanceMetric.cpu_percent)).all()
    assert kept == [2.0]


def test_health_is_told_as_stretches_between_its_changes(db_url: str) -> None:
    _, instance_id = _placed(db_url)
    now = utcnow()
    since = now - timedelta(days=7)
    changes = [  # first checked two days ago, down for an hour yesterday
        (now - timedelta(days=2), "unknown", "healthy"),
        (now - timedelta(days=1), "healthy", "unhealthy"),
        (now - timedelta(days=1) + timedelta(hours=1), "unhealthy", "healthy"),
        (now - timedelta(days=9), "unknown", "healthy"),  # before the window: not read
    ]
    with transaction(db_url) as session:
        instance = session.get(Instance, instance_id)
        assert instance is not None
        assert health_spans(session, instance=instance, since=since, until=now) == [], "never checked"
        instance.health, instance.health_checked_at = "healthy", now
        for at, previous, current in changes:
            session.add(
                HealthEvent(instance_id=instance_id, previous=previous, current=current, created_at=at)
            )
        session.flush()
        spans = health_spans(session, instance=instance, since=since, until=now)
    assert spans == [
        Span(changes[0][0], changes[1][0], "healthy"),
        Span(changes[1][0], changes[2][0], "unhealthy"),
        Span(changes[2][0], now, "healthy"),
    ]


def test_without_a_change_in_the_window_the_health_now_spans_it(db_url: str) -> None:
    _, instance_id = _placed(db_url)
    now = utcnow()
    with transaction(db_url) as session:
        instance = session.get(Instance, instance_id)
        assert instance is not None
        instance.health, instance.health_checked_at = "unhealthy", now
        spans = health_spans(session, instance=instance, since=now - timedelta(days=7), until=now)
    assert spans == [Span(now - timedelta(days=7), now, "unhealthy")]
