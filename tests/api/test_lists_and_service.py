from __future__ import annotations

from tests.api.conftest import Api


def test_lists_page_with_a_cursor(api: Api) -> None:
    for index in range(5):
        api.tenant(f"verein-{index}")
    first = api.client.get("/api/v1/tenants?limit=2", headers=api.operator).json()
    second = api.client.get(f"/api/v1/tenants?limit=2&cursor={first['next']}", headers=api.operator).json()
    third = api.client.get(f"/api/v1/tenants?limit=2&cursor={second['next']}", headers=api.operator).json()
    slugs = [t["slug"] for page in (first, second, third) for t in page["items"]]
    assert sorted(slugs) == [f"verein-{i}" for i in range(5)]
    assert third["next"] is None
    assert api.client.get("/api/v1/tenants?limit=501", headers=api.operator).status_code == 422


def test_catalog_speaks_german_and_english(api: Api) -> None:
    items = api.client.get("/api/v1/catalog", headers=api.operator).json()["items"]
    homepage = next(t for t in items if t["name"] == "homepage")
    assert homepage["title"] == {"de": "Vereinswebseite", "en": "Association homepage"}
    assert homepage["versions"] == ["1.0", "1.1"]
    assert homepage["parameters"]["required"] == ["title"]
    assert api.client.get("/api/v1/catalog/homepage", headers=api.operator).json() == homepage


def test_servers_report_capacity_and_the_host_key_fingerprint(api: Api) -> None:
    _, admin = api.tenant("verein-a")
    server_id = api.server()
    instance_id = api.homepage(admin)
    api.client.post(f"/api/v1/instances/{instance_id}/approve", headers=api.operator)
    server = api.client.get(f"/api/v1/servers/{server_id}", headers=api.operator).json()
    assert server["used"] == {"cpu": 0.25, "memory_mb": 64, "disk_gb": 1}
    assert server["free"]["memory_mb"] == 4096 - 64
    assert server["host_key_fingerprint"].startswith("SHA256:")


def test_service_endpoints(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}
    metrics = api.client.get("/metrics", headers=api.operator)
    assert metrics.headers["content-type"].startswith("text/plain; version=")
    assert "# TYPE provisioner_job_duration_seconds histogram" in metrics.text
    # The series name every association's instances: not for anyone else.
    assert api.client.get("/metrics").status_code == 401
    _, admin = api.tenant("verein-metrics")
    assert api.client.get("/metrics", headers=admin).status_code == 403
    schema = api.client.get("/openapi.json").json()
    assert schema["openapi"].startswith("3.1")
    assert "/api/v1/instances/{instance_id}/approve" in schema["paths"]
    assert api.client.get("/docs").status_code == 200
    assert "Association homepage" in api.client.get("/", headers={"Accept-Language": "en"}).text
    assert "Vereinswebseite" in api.client.get("/").text
