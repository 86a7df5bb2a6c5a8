from __future__ import annotations

from provisioner.auth.actor import Role
from tests.api.conftest import Api


def test_request_then_approve_creates_a_queued_job_and_sends_it(api: Api) -> None:
    _, admin = api.tenant("verein-a")
    server_id = api.server()
    instance_id = api.homepage(admin)
    response = api.client.post(f"/api/v1/instances/{instance_id}/approve", headers=api.operator)
    assert response.status_code == 202
    job = response.json()["job"]
    assert (job["kind"], job["status"], job["instance"]) == ("deploy", "queued", instance_id)
    assert api.dispatcher.sent == [job["id"]]
    instance = api.client.get(f"/api/v1/instances/{instance_id}", headers=admin).json()
    assert (instance["state"], instance["server"]) == ("approved", server_id)


def test_approving_twice_is_a_conflict(api: Api) -> None:
    _, admin = api.tenant("verein-a")
    api.server()
    instance_id = api.homepage(admin)
    assert (
        api.client.post(f"/api/v1/instances/{instance_id}/approve", headers=api.operator).status_code == 202
    )
    again = api.client.post(f"/api/v1/instances/{instance_id}/approve", headers=api.operator)
    assert again.status_code == 409
    assert again.json()["detail"] == "an instance that is approved cannot become approved"


def test_tenants_cannot_approve_and_rejection_keeps_the_reason(api: Api) -> None:
    _, admin = api.tenant("verein-a")
    instance_id = api.homepage(admin)
    assert api.client.post(f"/api/v1/instances/{instance_id}/approve", headers=admin).status_code == 403
    response = api.client.post(
        f"/api/v1/instances/{instance_id}/reject",
        json={"reason": "please ask for a cloud"},
        headers=api.operator,
    )
    assert response.status_code == 200
    assert (response.json()["state"], response.json()["state_reason"]) == (
        "rejected",
        "please ask for a cloud",
    )


def test_removing_a_never_deployed_instance_is_a_job_too(api: Api) -> None:
    _, admin = api.tenant("verein-a")
    instance_id = api.homepage(admin)
    response = api.client.delete(f"/api/v1/instances/{instance_id}", headers=admin)
    assert response.status_code == 202
    assert response.json()["job"]["kind"] == "remove"
    # The state changes when a worker starts the removal; until then the instance says what it is.
    assert api.client.get(f"/api/v1/instances/{instance_id}", headers=admin).json()["state"] == "requested"
    again = api.client.delete(f"/api/v1/instances/{instance_id}", headers=admin)
    assert again.status_code == 409


def test_members_may_look_but_not_change(api: Api) -> None:
    tenant_id, admin = api.tenant("verein-a")
    member = api.token(role=Role.MEMBER, tenant_id=tenant_id)
    instance_id = api.homepage(admin)
    assert api.client.get(f"/api/v1/instances/{instance_id}", headers=member).status_code == 200
    body = {"template": "homepage", "name": "other", "parameters": {"title": "x"}}
    assert api.client.post("/api/v1/instances", json=body, headers=member).status_code == 403
    assert api.client.delete(f"/api/v1/instances/{instance_id}", headers=member).status_code == 403


def test_an_operator_must_name_the_tenant_and_a_tenant_cannot_name_another(api: Api) -> None:
    tenant_b, _ = api.tenant("verein-b")
    _, admin_a = api.tenant("verein-a")
    body = {"template": "homepage", "name": "site", "parameters": {"title": "x"}}
    response = api.client.post("/api/v1/instances", json=body, headers=api.operator)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.tenant"
    response = api.client.post("/api/v1/instances", json={**body, "tenant": tenant_b}, headers=admin_a)
    assert response.status_code == 422
    assert (
        api.client.post(
            "/api/v1/instances", json={**body, "tenant": tenant_b}, headers=api.operator
        ).status_code
        == 201
    )
