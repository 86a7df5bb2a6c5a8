"""Listing, creating and revoking API tokens: operators see all, tenant admins their own tenant's."""

from __future__ import annotations

from datetime import datetime, timedelta

from provisioner.db import session_factory
from provisioner.models import ApiToken
from provisioner.timeutil import utcnow
from tests.api.conftest import Api
from tests.support.portal import PASSWORD, make_user


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


def test_a_token_expires_after_its_lifetime_and_says_so(api: Api) -> None:
    tenant_a, admin_a = api.tenant("verein-a")
    made = api.client.post(
        f"/api/v1/tenants/{tenant_a}/tokens", json={"role": "member", "name": "kiosk"}, headers=admin_a
    ).json()
    lifetime = datetime.fromisoformat(made["expires_at"]) - utcnow()
    assert timedelta(days=89) < lifetime <= timedelta(days=90)  # the default
    short = api.client.post(
        f"/api/v1/tenants/{tenant_a}/tokens",
        json={"role": "member", "name": "a day", "expires_in_days": 1},
        headers=admin_a,
    ).json()
    too_long = api.client.post(
        f"/api/v1/tenants/{tenant_a}/tokens",
        json={"role": "member", "name": "x", "expires_in_days": 3650},
        headers=admin_a,
    )
    assert too_long.status_code == 422
    assert too_long.json()["errors"][0]["field"] == "body.expires_in_days"
    headers = {"Authorization": f"Bearer {short['token']}"}
    assert api.client.get(f"/api/v1/tenants/{tenant_a}", headers=headers).status_code == 200
    with session_factory(api.db_url)() as session:
        session.get_one(ApiToken, short["id"]).expires_at = utcnow() - timedelta(seconds=1)
        session.commit()
    refused = api.client.get(f"/api/v1/tenants/{tenant_a}", headers=headers)
    assert refused.status_code == 401
    assert "expired" in refused.json()["detail"]


def test_the_tokens_a_person_made_stop_when_the_person_is_removed(api: Api) -> None:
    tenant_a, _ = api.tenant("verein-a")
    user_id = make_user(api.db_url, email="anna@verein-a.org", role="admin", tenant_id=tenant_a)
    login = {"email": "anna@verein-a.org", "password": PASSWORD}
    csrf = {"X-CSRF-Token": api.client.post("/api/v1/session", json=login).json()["csrf_token"]}
    made = api.client.post(
        f"/api/v1/tenants/{tenant_a}/tokens", json={"role": "member", "name": "cron"}, headers=csrf
    ).json()
    api.client.cookies.clear()
    cron = {"Authorization": f"Bearer {made['token']}"}
    assert api.client.get(f"/api/v1/tenants/{tenant_a}", headers=cron).status_code == 200
    assert api.client.delete(f"/api/v1/users/{user_id}", headers=api.operator).status_code == 204
    assert api.client.get(f"/api/v1/tenants/{tenant_a}", headers=cron).status_code == 401
