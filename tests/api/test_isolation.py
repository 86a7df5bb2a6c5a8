"""One association never sees or touches another's instances, jobs or events."""

from __future__ import annotations

from tests.api.conftest import Api


def test_another_tenants_resources_answer_exactly_like_missing_ones(api: Api) -> None:
    _, admin_a = api.tenant("verein-a")
    tenant_b, admin_b = api.tenant("verein-b")
    api.server()
    instance_id = api.homepage(admin_a)
    job_id = api.client.post(f"/api/v1/instances/{instance_id}/approve", headers=api.operator).json()["job"][
        "id"
    ]

    missing = api.client.get("/api/v1/instances/ins_doesnotexist", headers=admin_b)
    for method, path in [
        ("GET", f"/api/v1/instances/{instance_id}"),
        ("DELETE", f"/api/v1/instances/{instance_id}"),
        ("GET", f"/api/v1/jobs/{job_id}"),
        ("GET", f"/api/v1/jobs/{job_id}/events"),
    ]:
        response = api.client.request(method, path, headers=admin_b)
        assert response.status_code == 404, (method, path)
        assert response.json()["title"] == missing.json()["title"]

    assert api.client.get("/api/v1/instances", headers=admin_b).json()["items"] == []
    assert api.client.get(f"/api/v1/instances?tenant={instance_id}", headers=admin_b).json()["items"] == []
    assert api.client.get("/api/v1/jobs", headers=admin_b).json()["items"] == []
    assert api.client.get(f"/api/v1/jobs?instance={instance_id}", headers=admin_b).json()["items"] == []
    tenants = api.client.get("/api/v1/tenants", headers=admin_b).json()["items"]
    assert [t["id"] for t in tenants] == [tenant_b]


def test_tenants_cannot_reach_operator_resources(api: Api) -> None:
    tenant_a, admin_a = api.tenant("verein-a")
    server_id = api.server()
    assert api.client.get("/api/v1/servers", headers=admin_a).status_code == 403
    assert api.client.get(f"/api/v1/servers/{server_id}", headers=admin_a).status_code == 403
    body = {"slug": "x", "name": "x", "contact_email": "x@y.org"}
    assert api.client.post("/api/v1/tenants", json=body, headers=admin_a).status_code == 403
    # Tenant admins make tokens for their own tenant only (tests/api/test_tokens.py), never operator ones.
    token = {"role": "operator", "name": "sneaky"}
    assert (
        api.client.post(f"/api/v1/tenants/{tenant_a}/tokens", json=token, headers=admin_a).status_code == 422
    )
