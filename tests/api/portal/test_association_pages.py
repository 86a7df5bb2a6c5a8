"""Associations in the portal: added with the API's checks, and API tokens shown once."""

from __future__ import annotations

import re

from sqlalchemy import select

from provisioner.db import session_factory
from provisioner.models import ApiToken, Tenant
from tests.support.portal import People, csrf_of, field_state

NEW = {
    "name": "Verein C e.V.",
    "slug": "verein-c",
    "contact_email": "vorstand@verein-c.example",
    "language": "en",
}


def test_an_operator_adds_an_association(people: People, api) -> None:  # type: ignore[no-untyped-def]
    token = csrf_of(people.operator.get("/operator/tenants/new").text)
    assert people.operator.post("/operator/tenants/new", data=NEW).status_code == 403, "no CSRF token"
    wrong = people.operator.post(
        "/operator/tenants/new",
        data={"csrf_token": token, "name": "", "slug": "Verein C", "contact_email": "nein"},
    )
    assert wrong.status_code == 422
    for field in ("name", "slug", "contact_email"):
        assert field_state(wrong.text, f"field-{field}") == "invalid", field
    added = people.operator.post(
        "/operator/tenants/new", data={"csrf_token": token, **NEW}, follow_redirects=False
    )
    assert added.status_code == 303
    page = people.operator.get(added.headers["location"]).text
    assert "The association was added." in page
    with session_factory(api.db_url)() as session:
        tenant = session.scalars(select(Tenant).where(Tenant.slug == "verein-c")).one()
        assert (tenant.name, tenant.contact_email, tenant.language) == (
            NEW["name"],
            NEW["contact_email"],
            "en",
        )
    assert f'href="/team?tenant={tenant.id}"' in page, "on to inviting its people"
    twice = people.operator.post("/operator/tenants/new", data={"csrf_token": token, **NEW})
    assert twice.status_code == 422
    assert field_state(twice.text, "field-slug") == "invalid"
    assert "Verein C e.V." in people.operator.get("/operator/tenants").text


def test_a_token_is_shown_once_and_works_with_the_api(people: People, api) -> None:  # type: ignore[no-untyped-def]
    path = f"/operator/tenants/{people.tenant_a}/tokens"
    page = people.operator.get(path)
    token = csrf_of(page.text)
    wrong = people.operator.post(
        path, data={"csrf_token": token, "name": "", "role": "operator", "expires_in_days": "400"}
    )
    assert wrong.status_code == 422
    for field in ("field-token-name", "field-expires_in_days", "field-role"):
        assert field_state(wrong.text, field) == "invalid", field
    made = people.operator.post(
        path, data={"csrf_token": token, "name": "backup script", "role": "member", "expires_in_days": "30"}
    )
    assert made.status_code == 200
    assert made.headers["cache-control"] == "no-store"
    found = re.search(r'<textarea id="new-token"[^>]*>([^<]+)</textarea>', made.text)
    assert found
    plain = found.group(1).strip()
    listed = api.client.get("/api/v1/instances", headers={"Authorization": f"Bearer {plain}"})
    assert listed.status_code == 200, "the token works for the association"
    again = people.operator.get(path).text
    assert plain not in again, "never shown again"
    assert "backup script" in again
    with session_factory(api.db_url)() as session:
        row = session.scalars(select(ApiToken).where(ApiToken.name == "backup script")).one()
        assert (row.tenant_id, row.role) == (people.tenant_a, "member")
    revoked = people.operator.post(f"{path}/{row.id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 200
    assert (
        api.client.get("/api/v1/instances", headers={"Authorization": f"Bearer {plain}"}).status_code == 401
    )


def test_associations_cannot_reach_the_operator_forms(people: People) -> None:
    token = csrf_of(people.admin_a.get("/services").text)
    assert people.admin_a.get("/operator/tenants/new").status_code == 403
    assert people.admin_a.post("/operator/tenants/new", data={"csrf_token": token, **NEW}).status_code == 403
    path = f"/operator/tenants/{people.tenant_a}/tokens"
    assert people.admin_a.get(path).status_code == 403
    assert (
        people.admin_a.post(path, data={"csrf_token": token, "name": "x", "role": "admin"}).status_code == 403
    )
