"""``POST /api/v1/instances/{id}/credentials/reset``: who may ask, for which instances; 202 with a job."""

from __future__ import annotations

from provisioner.auth.actor import Role
from provisioner.db import session_factory
from provisioner.models import Instance
from tests.api.conftest import Api


def _deployed_wordpress(api: Api, headers: dict[str, str]) -> str:
    api.server()
    body = {"template": "wordpress", "name": "blog", "parameters": {}}
    instance_id: str = api.client.post("/api/v1/instances", json=body, headers=headers).json()["id"]
    approved = api.client.post(f"/api/v1/instances/{instance_id}/approve", headers=api.operator)
    assert approved.status_code == 202, approved.text
    with session_factory(api.db_url)() as session:
        session.get_one(Instance, instance_id).state = "running"  # as its deploy would leave it
        session.commit()
    return instance_id


def test_an_admin_asks_for_new_credentials_and_gets_a_job(api: Api) -> None:
    _, admin = api.tenant("verein-a")
    instance_id = _deployed_wordpress(api, admin)
    response = api.client.post(f"/api/v1/instances/{instance_id}/credentials/reset", headers=admin)
    assert response.status_code == 202, response.text
    job = response.json()["job"]
    assert (job["kind"], job["status"], job["instance"]) == ("reset_credentials", "queued", instance_id)
    assert api.dispatcher.sent[-1] == job["id"]


def test_members_get_403_and_other_tenants_404(api: Api) -> None:
    tenant_id, admin = api.tenant("verein-a")
    _, other = api.tenant("verein-b")
    instance_id = _deployed_wordpress(api, admin)
    member = api.token(role=Role.MEMBER, tenant_id=tenant_id)
    path = f"/api/v1/instances/{instance_id}/credentials/reset"
    assert api.client.post(path, headers=member).status_code == 403
    assert api.client.post(path, headers=other).status_code == 404
    assert api.client.post(path, headers=api.operator).status_code == 202


def test_a_service_without_a_reset_hook_or_not_deployed_answers_409(api: Api) -> None:
    _, admin = api.tenant("verein-a")
    homepage = api.homepage(admin)
    refused = api.client.post(f"/api/v1/instances/{homepage}/credentials/reset", headers=admin)
    assert refused.status_code == 409
    assert "no credentials the control plane can reset" in refused.json()["detail"]
    waiting = api.client.post(
        "/api/v1/instances", json={"template": "wordpress", "name": "wp", "parameters": {}}, headers=admin
    ).json()["id"]
    refused = api.client.post(f"/api/v1/instances/{waiting}/credentials/reset", headers=admin)
    assert refused.status_code == 409
    assert "only deployed instances" in refused.json()["detail"]
