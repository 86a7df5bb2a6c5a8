"""Listing, creating and revoking API tokens: operators see all, tenant admins their own tenant's."""

from __future__ import annotations

from tests.api.conftest import Api


def test_tenant_admins_make_tokens_for_their_own_tenant_only(api: Api) -> None:
    tenant_a, admin_a = api.tenant("verein-a")
    tenant_b, _ = api.tenant("verein-b")
    made = api.client.post(
        f"/api/v1/tenants/{tenant_a}/tokens", json={"role": "member", "name": "kiosk"}, headers=admin_a
    )
    assert made.status_code == 201, made.text
    member = {"Authorization": f"Bearer {made.json()['token']}"}
    assert api.client.get(f"/api/v1/tenants/{tenant_a}", headers=member).status_code == 200
    other = api.client.post(
        f"/api/v1/tenants/{tenant_b}/tokens", json={"role": "admin", "name": "x"}, headers=admin_a
    )
    assert other.status_code == 404
    by_member = api.client.post(
        f"/api/v1/tenants/{tenant_a}/tokens", json={"role": "admin", "name": "x"}, headers=member
    )
    assert by_member.status_code == 403


def test_listing_shows_last_use_but_never_the_token(api: Api) -> None:
    tenant_a, admin_a = api.tenant("verein-a")
    api.tenant("verein-b")
    api.client.get("/api/v1/tenants", headers=admin_a)

    everything = api.client.get("/api/v1/tokens", headers=api.operator)
    assert everything.status_code == 200
    items = everything.json()["items"]
    assert len(items) == 3  # the operator's and one admin token per tenant
    assert all("token" not in item for item in items)
    assert admin_a["Authorization"].removeprefix("Bearer ") not in everything.text

    mine = api.client.get("/api/v1/tokens", headers=admin_a).json()["items"]
    assert [(t["tenant"], t["role"]) for t in mine] == [(tenant_a, "admin")]
    assert mine[0]["last_used_at"] is not None


def test_revoking_stops_the_token_and_another_tenants_token_answers_404(api: Api) -> None:
    _, admin_a = api.tenant("verein-a")
    tenant_b, admin_b = api.tenant("verein-b")
    [token_b] = api.client.get("/api/v1/tokens", headers=admin_b).json()["items"]
    operator_token = next(
        t
        for t in api.client.get("/api/v1/tokens", headers=api.operator).json()["items"]
        if t["tenant"] is None
    )
    assert api.client.delete(f"/api/v1/tokens/{token_b['id']}", headers=admin_a).status_code == 404
    assert api.client.delete(f"/api/v1/tokens/{operator_token['id']}", headers=admin_a).status_code == 404
    assert api.client.delete("/api/v1/tokens/tok_missing", headers=admin_a).status_code == 404

    made = api.client.post(
        f"/api/v1/tenants/{tenant_b}/tokens", json={"role": "member", "name": "m"}, headers=admin_b
    )
    member_b = {"Authorization": f"Bearer {made.json()['token']}"}
    assert api.client.get("/api/v1/tokens", headers=member_b).status_code == 403

    assert api.client.delete(f"/api/v1/tokens/{token_b['id']}", headers=admin_b).status_code == 204
    assert api.client.get(f"/api/v1/tenants/{tenant_b}", headers=admin_b).status_code == 401
    revoked = api.client.get("/api/v1/tokens", headers=api.operator).json()["items"]
    assert next(t for t in revoked if t["id"] == token_b["id"])["revoked_at"] is not None
    assert api.client.delete(f"/api/v1/tokens/{token_b['id']}", headers=api.operator).status_code == 204
