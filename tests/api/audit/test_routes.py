"""Who may read which entries of the audit log, a page or a CSV export at a time."""

from __future__ import annotations

import csv
import io

from provisioner.auth.actor import Role
from tests.api.conftest import Api


def test_operators_read_all_admins_their_own_members_nothing(api: Api) -> None:
    a_id, a_admin = api.tenant("verein-a")
    b_id, b_admin = api.tenant("verein-b")
    api.homepage(a_admin)
    api.homepage(b_admin)
    everything = api.client.get("/api/v1/audit", headers=api.operator).json()["items"]
    assert len(everything) == 4
    only_b = api.client.get("/api/v1/audit", params={"tenant": b_id}, headers=api.operator).json()["items"]
    assert {e["tenant_id"] for e in only_b} == {b_id}
    own = api.client.get("/api/v1/audit", headers=a_admin).json()["items"]
    assert {e["tenant_id"] for e in own} == {a_id}
    assert len(own) == 2
    # A tenant's admin cannot ask for another tenant's entries: the filter is its own tenant anyway.
    still_own = api.client.get("/api/v1/audit", params={"tenant": b_id}, headers=a_admin).json()["items"]
    assert {e["tenant_id"] for e in still_own} == {a_id}
    member = api.token(role=Role.MEMBER, tenant_id=a_id)
    refused = api.client.get("/api/v1/audit", headers=member)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"


def test_the_list_is_paginated(api: Api) -> None:
    for slug in ("a1", "a2", "a3"):
        api.tenant(slug)
    first = api.client.get("/api/v1/audit", params={"limit": 2}, headers=api.operator).json()
    second = api.client.get(
        "/api/v1/audit", params={"limit": 2, "cursor": first["next"]}, headers=api.operator
    ).json()
    assert len(first["items"]) == 2
    assert len(second["items"]) == 1
    assert second["next"] is None


def test_the_csv_export_is_safe_for_spreadsheets(api: Api) -> None:
    a_id, a_admin = api.tenant("verein-a")
    # The id in a path is the client's choice, and is recorded as the target.
    api.client.post("/api/v1/instances/=1+1/approve", headers=a_admin)
    response = api.client.get("/api/v1/audit.csv", headers=api.operator)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["time", "actor", "tenant", "action", "target", "client", "status", "outcome"]
    assert [(r[3], r[4]) for r in rows[1:]] == [("create_tenant", a_id), ("approve_instance", "'=1+1")]
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    member = api.token(role=Role.MEMBER, tenant_id=a_id)
    assert api.client.get("/api/v1/audit.csv", headers=member).status_code == 403


def test_a_tenant_filter_the_database_cannot_look_up_is_422_before_the_csv_starts(api: Api) -> None:
    for path in ("/api/v1/audit", "/api/v1/audit.csv"):
        response = api.client.get(path, params={"tenant": "\x00"}, headers=api.operator)
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == ["query.tenant"]
