"""The resources a service and an association use: measured beside reserved, or reserved alone."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import update

from provisioner.db import session_factory
from provisioner.instances.states import InstanceState
from provisioner.models import Instance, ServerMetric
from provisioner.timeutil import utcnow
from tests.support.portal import People

FIGURES = {"cpu_percent": 50.0, "memory_mb": 200.4, "disk_mb": 1536.0}


def _running_homepage(api, people: People) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A homepage of the first association, placed and running as a finished deploy leaves it."""
    server_id = api.server()
    instance_id = api.homepage(people.admin_a_headers)
    with session_factory(api.db_url)() as session:
        session.execute(
            update(Instance)
            .where(Instance.id == instance_id)
            .values(state=InstanceState.RUNNING.value, server_id=server_id)
        )
        session.commit()
    return server_id, instance_id


def _collected(api, server_id: str, instances: dict, *, minutes_ago: float = 1) -> None:  # type: ignore[no-untyped-def, type-arg]
    with session_factory(api.db_url)() as session:
        session.add(
            ServerMetric(
                server_id=server_id,
                collected_at=utcnow() - timedelta(minutes=minutes_ago),
                reachable=True,
                instances=instances,
            )
        )
        session.commit()


def _cells(page: str, row: str) -> list[str]:
    found = re.search(rf'<th scope="row">{re.escape(row)}</th>(.*?)</tr>', page)
    assert found, f"a row {row!r} in the page"
    return re.findall(r"<td>([^<]*)</td>", found.group(1))


def test_without_a_recent_measurement_the_reserved_figures_stand_alone(people: People, api) -> None:  # type: ignore[no-untyped-def]
    server_id, instance_id = _running_homepage(api, people)
    _collected(api, server_id, {instance_id: FIGURES}, minutes_ago=16)  # older than 3 intervals of 5 min
    for page in (people.admin_a.get(f"/services/{instance_id}").text, people.admin_a.get("/services").text):
        assert "No recent measurement: the figures are the resources reserved" in page
        assert '<th scope="col">Reserved</th>' in page
        assert '<th scope="col">Measured</th>' not in page
        assert _cells(page, "Processor cores") == ["0.25"]
        assert _cells(page, "Memory (MB)") == ["64"]
        assert _cells(page, "Disk (GB)") == ["1"]
        assert _cells(page, "Power (W, estimated)") == ["0.6"]  # 0.25 x 2.12 + 64/1024 x 0.392 + 0.0012


def test_measured_figures_stand_beside_the_reserved_ones_with_their_time(people: People, api) -> None:  # type: ignore[no-untyped-def]
    server_id, instance_id = _running_homepage(api, people)
    _collected(api, server_id, {instance_id: FIGURES})
    page = people.admin_a.get(f"/services/{instance_id}").text
    assert re.search(
        r"<p>Measured: <time datetime=\"[0-9T:.+-]+\">[^<]+, 20[0-9]{2}, [^<]+ UTC</time></p>", page
    )
    assert '<th scope="col">Measured</th><th scope="col">Reserved</th>' in page
    assert _cells(page, "Processor cores") == ["0.5", "0.25"]
    assert _cells(page, "Memory (MB)") == ["200", "64"]
    assert _cells(page, "Disk (GB)") == ["1.5", "1"]
    assert _cells(page, "Power (W, estimated)") == ["1.1", "0.6"]  # 0.5 x 2.12 + 200.4/1024 x 0.392 + …
    assert _cells(page, "Energy a year (kWh, estimated)") == ["10", "5"]
    assert "The power is an estimate from these figures" in page

    listing = people.admin_a.get("/services").text
    assert "Measured for 1 of 1 service." in listing
    assert _cells(listing, "Processor cores") == ["0.5", "0.25"]

    german = people.admin_a.get(f"/services/{instance_id}", headers={"Accept-Language": "de"}).text
    assert '<th scope="col">Gemessen</th><th scope="col">Reserviert</th>' in german
    assert _cells(german, "Arbeitsspeicher (MB)") == ["200", "64"]
    assert _cells(german, "Speicherplatz (GB)") == ["1,5", "1"]


def test_an_associations_total_counts_only_its_own_services(people: People, api) -> None:  # type: ignore[no-untyped-def]
    server_id, mine = _running_homepage(api, people)
    theirs = api.homepage(api.tenant("verein-c")[1])
    with session_factory(api.db_url)() as session:
        session.execute(
            update(Instance)
            .where(Instance.id == theirs)
            .values(state=InstanceState.RUNNING.value, server_id=server_id)
        )
        session.commit()
    _collected(api, server_id, {mine: FIGURES, theirs: FIGURES | {"cpu_percent": 400.0}})
    listing = people.admin_a.get("/services").text
    assert _cells(listing, "Processor cores") == ["0.5", "0.25"]
    assert "Measured for 1 of 1 service." in listing
    assert "Your association has no services yet." in people.admin_b.get("/services").text


def test_the_operator_sees_each_associations_measured_use(people: People, api) -> None:  # type: ignore[no-untyped-def]
    server_id, instance_id = _running_homepage(api, people)
    _collected(api, server_id, {instance_id: FIGURES})
    page = people.operator.get("/operator/tenants").text
    mine = page[page.index(f'id="tenant-{people.tenant_a}"') :]
    assert (
        mine.split("</section>")[0].count("Measured use: 0.5 processor cores, 200 MB memory, 1.5 GB disk")
        == 1
    )
    theirs = page[page.index(f'id="tenant-{people.tenant_b}"') :].split("</section>")[0]
    assert "No recent measurement of its services." in theirs
    assert "The power is an estimate from these figures" in page
    assert people.admin_a.get("/operator/tenants").status_code == 403
