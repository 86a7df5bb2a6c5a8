"""Schedules, instance health and alerts over HTTP: who may see and change what."""

from __future__ import annotations

from sqlalchemy import update

from provisioner.alerts import AlertKind, raise_alert
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.instances.states import InstanceState
from provisioner.models import HealthEvent, Instance, ServerMetric
from provisioner.timeutil import utcnow
from tests.api.conftest import Api


def _running(api: Api, instance_id: str, server_id: str) -> None:
    with transaction(api.db_url) as session:
        session.execute(
            update(Instance)
            .where(Instance.id == instance_id)
            .values(state=InstanceState.RUNNING.value, server_id=server_id, health="unhealthy")
        )
        session.add(
            HealthEvent(
                instance_id=instance_id, previous="healthy", current="unhealthy", detail="answered 502"
            )
        )


def test_operators_manage_schedules_and_an_association_its_own_backups(api: Api) -> None:
    _, admin_a = api.tenant("verein-a")
    _, admin_b = api.tenant("verein-b")
    site = api.wordpress(admin_a)

    default = api.client.post(
        "/api/v1/schedules",
        json={"kind": "update", "template": "homepage", "cron": "0 4 * * 0"},
        headers=api.operator,
    )
    assert default.status_code == 201, default.text
    assert default.json()["timezone"] == "UTC"

    own = api.client.post(
        "/api/v1/schedules", json={"kind": "backup", "instance": site, "cron": "30 2 * * *"}, headers=admin_a
    )
    assert own.status_code == 201, own.text
    schedule_id = own.json()["id"]
    again = api.client.post(
        "/api/v1/schedules",
        json={"kind": "backup", "instance": site, "interval_seconds": 3600},
        headers=admin_a,
    )
    assert again.status_code == 409

    changed = api.client.patch(
        f"/api/v1/schedules/{schedule_id}", json={"interval_seconds": 7200}, headers=admin_a
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["cron"], changed.json()["interval_seconds"]) == (None, 7200)
    paused = api.client.patch(f"/api/v1/schedules/{schedule_id}", json={"enabled": False}, headers=admin_a)
    assert paused.json()["enabled"] is False
    assert paused.json()["interval_seconds"] == 7200

    # The association sees its instance's schedules, not the lab's defaults; others see nothing.
    listed = api.client.get("/api/v1/schedules", headers=admin_a).json()["items"]
    assert [s["id"] for s in listed] == [schedule_id]
    assert api.client.get(f"/api/v1/schedules/{default.json()['id']}", headers=admin_a).status_code == 404
    assert len(api.client.get("/api/v1/schedules", headers=api.operator).json()["items"]) == 2
    assert api.client.get("/api/v1/schedules", headers=admin_b).json()["items"] == []
    for method in ("GET", "PATCH", "DELETE"):
        response = api.client.request(method, f"/api/v1/schedules/{schedule_id}", json={}, headers=admin_b)
        assert response.status_code == 404, method

    # An association decides on its backups only.
    for body in (
        {"kind": "update", "instance": site, "cron": "0 4 * * 0"},
        {"kind": "backup", "template": "wordpress", "cron": "0 4 * * 0"},
    ):
        assert api.client.post("/api/v1/schedules", json=body, headers=admin_a).status_code == 403
    b_site = api.client.post(
        "/api/v1/schedules", json={"kind": "backup", "instance": site, "cron": "0 1 * * *"}, headers=admin_b
    )
    assert b_site.status_code == 404

    assert api.client.delete(f"/api/v1/schedules/{schedule_id}", headers=admin_a).status_code == 204
    assert api.client.get(f"/api/v1/schedules/{schedule_id}", headers=admin_a).status_code == 404


def test_bad_schedules_name_the_field(api: Api) -> None:
    _, admin = api.tenant("verein-a")
    site = api.wordpress(admin)
    no_data = api.homepage(admin)
    cases = [
        ({"kind": "backup", "instance": site, "cron": "nightly"}, "body.cron"),
        ({"kind": "backup", "instance": site}, "body.cron"),
        ({"kind": "backup", "instance": site, "interval_seconds": 5}, "body.interval_seconds"),
        ({"kind": "backup", "cron": "0 3 * * *"}, "body.instance"),
        ({"kind": "backup", "template": "no-such", "cron": "0 3 * * *"}, "body.template"),
        ({"kind": "coffee", "instance": site, "cron": "0 3 * * *"}, "body.kind"),
        ({"kind": "backup", "instance": no_data, "cron": "0 3 * * *"}, "body.kind"),
        ({"kind": "drill", "template": "homepage", "interval_seconds": 86400}, "body.kind"),
    ]
    for body, field in cases:
        response = api.client.post("/api/v1/schedules", json=body, headers=api.operator)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
        assert field in {e["field"] for e in response.json()["errors"]}, (body, response.text)


def test_health_with_recent_changes_and_alerts_stay_with_their_association(api: Api) -> None:
    tenant_a, admin_a = api.tenant("verein-a")
    _, admin_b = api.tenant("verein-b")
    server_id = api.server()
    site = api.homepage(admin_a)
    _running(api, site, server_id)
    with transaction(api.db_url) as session:
        session.add(
            ServerMetric(
                server_id=server_id,
                collected_at=utcnow(),
                reachable=True,
                disk_total_mb=1000,
                disk_used_mb=10,
                instances={site: {"cpu_percent": 1.5, "memory_mb": 40.0}},
            )
        )
        settings = Settings(database_url=api.db_url)
        raise_alert(
            session,
            settings,
            kind=AlertKind.INSTANCE_UNHEALTHY,
            subject_id=site,
            tenant_id=tenant_a,
            summary="x",
        )
        raise_alert(
            session,
            settings,
            kind=AlertKind.SERVER_UNREACHABLE,
            subject_id=server_id,
            tenant_id=None,
            summary="y",
        )

    health = api.client.get(f"/api/v1/instances/{site}/health", headers=admin_a)
    assert health.status_code == 200, health.text
    body = health.json()
    assert body["health"] == "unhealthy"
    assert [(c["previous"], c["current"], c["detail"]) for c in body["changes"]] == [
        ("healthy", "unhealthy", "answered 502")
    ]
    assert body["footprint"]["memory_mb"] == 40.0
    missing = api.client.get("/api/v1/instances/ins_missing/health", headers=admin_b)
    other = api.client.get(f"/api/v1/instances/{site}/health", headers=admin_b)
    assert other.status_code == missing.status_code == 404
    assert other.json()["title"] == missing.json()["title"]

    assert [a["subject"] for a in api.client.get("/api/v1/alerts", headers=admin_a).json()["items"]] == [site]
    assert api.client.get("/api/v1/alerts", headers=admin_b).json()["items"] == []
    everything = api.client.get("/api/v1/alerts?status=open", headers=api.operator).json()["items"]
    assert {a["kind"] for a in everything} == {"instance_unhealthy", "server_unreachable"}

    server = api.client.get(f"/api/v1/servers/{server_id}", headers=api.operator).json()
    assert server["metrics"]["disk_used_mb"] == 10
    assert server["metrics"]["instances"][site]["cpu_percent"] == 1.5
