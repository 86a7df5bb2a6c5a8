"""Every mutating request lands once in the audit log, without its body."""

from __future__ import annotations

from sqlalchemy import select

from provisioner.db import session_factory
from provisioner.models import AuditEntry
from tests.api.conftest import Api


def _entries(api: Api) -> list[AuditEntry]:
    with session_factory(api.db_url)() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.created_at, AuditEntry.id)))


def test_mutating_requests_are_recorded_with_actor_tenant_target_and_outcome(api: Api) -> None:
    tenant_id, admin = api.tenant("verein-a")
    instance_id = api.homepage(admin)
    api.client.get(f"/api/v1/instances/{instance_id}", headers=admin)  # reads are not recorded
    refused = api.client.post(f"/api/v1/instances/{instance_id}/approve", headers=admin)
    assert refused.status_code == 403
    entries = _entries(api)
    assert [(e.action, e.status_code, e.outcome) for e in entries] == [
        ("create_tenant", 201, "success"),
        ("request_instance", 201, "success"),
        ("approve_instance", 403, "Forbidden"),
    ]
    created, requested, approve = entries
    assert created.target_id == tenant_id
    assert created.tenant_id == tenant_id
    assert (requested.target_id, requested.tenant_id) == (instance_id, tenant_id)
    assert (approve.target_id, approve.tenant_id) == (instance_id, tenant_id)
    assert approve.actor != created.actor  # the tenant's token, then the operator's
    assert approve.client_address == "testclient"


def test_request_bodies_are_never_stored(api: Api) -> None:
    secret = "hunter2-do-not-keep-me"
    response = api.client.post(
        "/api/v1/tenants",
        json={"slug": "x", "name": secret, "contact_email": "not an address"},
        headers=api.operator,
    )
    assert response.status_code == 422
    [entry] = _entries(api)
    assert (entry.action, entry.outcome, entry.status_code) == ("create_tenant", "Invalid input", 422)
    assert all(secret not in str(v) for v in vars(entry).values())


def test_requests_without_valid_credentials_are_recorded_as_anonymous(api: Api) -> None:
    response = api.client.post("/api/v1/tenants", json={}, headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401
    [entry] = _entries(api)
    assert (entry.actor, entry.outcome) == ("anonymous", "Unauthorized")


def test_showing_credentials_is_recorded(api: Api) -> None:
    _, admin = api.tenant("verein-a")
    instance_id = api.homepage(admin)
    api.client.get(f"/api/v1/instances/{instance_id}/credentials", headers=admin)
    assert _entries(api)[-1].action == "get_credentials"
