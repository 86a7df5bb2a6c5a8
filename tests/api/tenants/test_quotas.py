"""Quotas per tenant: set by operators, shown with the usage, enforced at request and at approval."""

from __future__ import annotations

from provisioner.auth.actor import Role
from tests.api.conftest import Api

# The homepage template reserves this much (service_templates/homepage/template.yaml).
HOMEPAGE_MB = 64


def _quota(api: Api, tenant_id: str, **quota: int | None) -> dict[str, object]:
    response = api.client.patch(f"/api/v1/tenants/{tenant_id}", json={"quota": quota}, headers=api.operator)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_a_tenant_shows_its_quota_and_what_its_instances_use(api: Api) -> None:
    tenant_id, admin = api.tenant("verein-a")
    api.homepage(admin)
    shown = api.client.get(f"/api/v1/tenants/{tenant_id}", headers=admin).json()
    assert shown["quota"] == {"instances": 10, "memory_mb": 8192, "disk_gb": 100}  # the lab's defaults
    assert shown["usage"]["instances"] == 1
    assert shown["usage"]["memory_mb"] == HOMEPAGE_MB


def test_a_request_beyond_the_instance_quota_is_refused_in_plain_words(api: Api) -> None:
    tenant_id, admin = api.tenant("verein-a")
    changed = _quota(api, tenant_id, instances=1)
    assert changed["quota"] == {"instances": 1, "memory_mb": 8192, "disk_gb": 100}
    api.homepage(admin, name="one")
    refused = api.client.post(
        "/api/v1/instances", json={"template": "homepage", "name": "two", "parameters": {"title": "x"}},
        headers=admin,
    )  # fmt: skip
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["title"] == "Quota exceeded"
    assert "instances: 1 in use, 1 more asked, quota 1" in problem["detail"]
    # Back to the lab's default with null.
    assert _quota(api, tenant_id, instances=None)["quota"] == {
        "instances": 10,
        "memory_mb": 8192,
        "disk_gb": 100,
    }
    api.homepage(admin, name="two")


def test_memory_is_counted_over_all_instances_and_rejected_ones_do_not_count(api: Api) -> None:
    tenant_id, admin = api.tenant("verein-a")
    _quota(api, tenant_id, memory_mb=HOMEPAGE_MB)
    first = api.homepage(admin, name="one")
    refused = api.client.post(
        "/api/v1/instances", json={"template": "homepage", "name": "two", "parameters": {"title": "x"}},
        headers=admin,
    )  # fmt: skip
    assert refused.status_code == 409
    assert (
        f"memory: {HOMEPAGE_MB} MB in use, {HOMEPAGE_MB} MB more asked, quota {HOMEPAGE_MB} MB"
        in (refused.json()["detail"])
    )
    rejected = api.client.post(
        f"/api/v1/instances/{first}/reject", json={"reason": "test"}, headers=api.operator
    )
    assert rejected.status_code == 200
    api.homepage(admin, name="two")


def test_approval_checks_the_quota_again(api: Api) -> None:
    api.server()
    tenant_id, admin = api.tenant("verein-a")
    one = api.homepage(admin, name="one")
    api.homepage(admin, name="two")
    _quota(api, tenant_id, instances=1)
    refused = api.client.post(f"/api/v1/instances/{one}/approve", headers=api.operator)
    assert refused.status_code == 409
    assert "instances: 1 in use, 1 more asked, quota 1" in refused.json()["detail"]
    _quota(api, tenant_id, instances=2)
    assert api.client.post(f"/api/v1/instances/{one}/approve", headers=api.operator).status_code == 202


def test_only_operators_set_quotas_and_bad_values_name_the_field(api: Api) -> None:
    tenant_id, admin = api.tenant("verein-a")
    forbidden = api.client.patch(
        f"/api/v1/tenants/{tenant_id}", json={"quota": {"instances": 99}}, headers=admin
    )
    assert forbidden.status_code == 403
    other_id, _ = api.tenant("verein-b")
    hidden = api.client.patch(f"/api/v1/tenants/{other_id}", json={"quota": {"instances": 99}}, headers=admin)
    assert hidden.status_code == 404
    member = api.token(role=Role.MEMBER, tenant_id=tenant_id)
    assert api.client.patch(f"/api/v1/tenants/{tenant_id}", json={}, headers=member).status_code == 403
    bad = api.client.patch(
        f"/api/v1/tenants/{tenant_id}", json={"quota": {"disk_gb": -1}}, headers=api.operator
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "body.quota.disk_gb"
