"""Charts on the portal's pages: a service's health and footprint for its association, each server's use
(its services' processor cores, memory, disk) for the operator, in the viewer's language, with their
numbers behind a disclosure."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import update

from provisioner.db import session_factory
from provisioner.instances.states import InstanceState
from provisioner.models import HealthEvent, Instance, InstanceMetric, ServerMetric
from provisioner.timeutil import utcnow
from tests.support.portal import People


def _running_with_history(api, people: People) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    server_id = api.server()
    instance_id = api.homepage(people.admin_a_headers)
    now = utcnow()
    with session_factory(api.db_url)() as session:
        session.execute(
            update(Instance)
            .where(Instance.id == instance_id)
            .values(
                state=InstanceState.RUNNING.value,
                server_id=server_id,
                health="healthy",
                health_checked_at=now,
            )
        )
        session.add(
            HealthEvent(
                instance_id=instance_id,
                previous="unknown",
                current="healthy",
                created_at=now - timedelta(days=2),
            )
        )
        for hours, memory in ((30, 120.0), (2, 180.0)):
            at = now - timedelta(hours=hours)
            session.add(
                InstanceMetric(
                    instance_id=instance_id,
                    server_id=server_id,
                    collected_at=at,
                    cpu_percent=25.0,
                    memory_mb=memory,
                    disk_mb=2048.0,
                )
            )
            session.add(
                ServerMetric(
                    server_id=server_id,
                    collected_at=at,
                    reachable=True,
                    memory_total_mb=4096,
                    memory_available_mb=1024,
                    disk_total_mb=40960,
                    disk_used_mb=10240,
                    instances={
                        instance_id: {"cpu_percent": 25.0, "memory_mb": memory},
                        "gone": {"cpu_percent": 50.0},
                    },
                )
            )
        session.commit()
    return server_id, instance_id


def _figure(page: str, chart_id: str) -> str:
    found = re.search(
        rf'<figure class="chart">\s*<svg[^>]*aria-labelledby="{chart_id}-title {chart_id}-desc".*?</figure>',
        page,
        re.S,
    )
    assert found, f"a chart {chart_id}"
    return found.group(0)


def test_a_service_page_draws_its_health_and_footprint_with_the_numbers_behind_a_disclosure(
    people: People, api
) -> None:  # type: ignore[no-untyped-def]
    _, instance_id = _running_with_history(api, people)
    page = people.admin_a.get(f"/services/{instance_id}").text
    assert '<h2 id="charts-heading">The last days</h2>' in page
    memory = _figure(page, "chart-memory")
    assert '<title id="chart-memory-title">Memory in use</title>' in memory
    assert "lowest 120 MB, highest 180 MB, latest 180 MB" in memory
    assert re.findall(r"<td>([^<]*MB)</td>", memory) == ["120 MB", "180 MB"]
    assert "<details>" in memory
    assert "working 100.0 % of the checked time" in _figure(page, "chart-health")
    assert "latest 0.25 (" in _figure(page, "chart-cpu")
    assert "latest 2.00 GB" in _figure(page, "chart-disk")

    german = people.admin_a.get(f"/services/{instance_id}", headers={"Accept-Language": "de"}).text
    assert '<title id="chart-memory-title">Belegter Arbeitsspeicher</title>' in german
    assert "zuletzt 2,00 GB" in _figure(german, "chart-disk")
    assert "Die Zahlen" in german


def test_a_service_not_measured_yet_says_so_and_a_request_has_no_charts(people: People, api) -> None:  # type: ignore[no-untyped-def]
    server_id = api.server()
    instance_id = api.homepage(people.admin_a_headers)
    assert "charts-heading" not in people.admin_a.get(f"/services/{instance_id}").text, "only a request"
    with session_factory(api.db_url)() as session:
        session.execute(
            update(Instance).where(Instance.id == instance_id).values(state="running", server_id=server_id)
        )
        session.commit()
    page = people.admin_a.get(f"/services/{instance_id}").text
    for chart_id in ("chart-health", "chart-cpu", "chart-memory", "chart-disk"):
        figure = _figure(page, chart_id)
        assert "No measurements yet." in figure
        assert "<details>" not in figure


def test_the_servers_page_draws_each_servers_use_against_its_capacity(people: People, api) -> None:  # type: ignore[no-untyped-def]
    server_id, _ = _running_with_history(api, people)
    page = people.operator.get("/operator/servers", headers={"Accept-Language": "de"}).text
    memory = _figure(page, f"chart-{server_id}-memory")
    assert "Belegter Arbeitsspeicher auf" in memory
    assert ">4.096 MB</text>" in memory, "the value axis ends at the server's memory"
    assert "zuletzt 3.072 MB" in memory
    assert "zuletzt 10,0 GB" in _figure(page, f"chart-{server_id}-disk")
    # The processor cores its services' containers used, summed, against the cores the server offers.
    cpu = _figure(page, f"chart-{server_id}-cpu")
    assert "Von den Diensten auf s1 genutzte Prozessorkerne" in cpu
    assert "zuletzt 0,75 (" in cpu
    assert ">4,00</text>" in cpu, "the value axis ends at the server's cores"
