"""The offboarding endpoints: an admin's request waits and is canceled, an operator's starts a job,
a second is refused, a leaving association takes nothing new (409 saying why), and the deletion record
is for operators once it is done."""

from __future__ import annotations

from datetime import timedelta

from provisioner.auth.actor import Role
from provisioner.db import session_factory
from provisioner.timeutil import utcnow
from tests.api.conftest import Api
from tests.support.offboarding import offboarded_record

PROBLEM = "application/problem+json"


def test_an_admin_asks_waits_and_cancels_then_an_operator_offboards_at_once(api: Api) -> None:
    tenant_id, admin = api.tenant("verein-a")
    path = f"/api/v1/tenants/{tenant_id}/offboarding"
    wrong = api.client.post(path, json={"confirm": "verein"}, headers=admin)
    assert (wrong.status_code, wrong.headers["content-type"]) == (422, PROBLEM)
    assert wrong.json()["errors"] == [{"field": "body.confirm", "message": "must be 'verein-a'"}]
    member = api.token(role=Role.MEMBER, tenant_id=tenant_id)
    assert api.client.post(path, json={"confirm": "verein-a"}, headers=member).status_code == 403
    _, other = api.tenant("verein-b")
    assert api.client.post(path, json={"confirm": "verein-a"}, headers=other).status_code == 404

    waiting = api.client.post(path, json={"confirm": "verein-a"}, headers=admin)
    assert waiting.status_code == 202, waiting.text
    assert waiting.json()["job"] is None
    assert waiting.json()["offboarding"]["state"] == "waiting"
    refused = api.client.post("/api/v1/instances", json={"template": "homepage", "name": "x",
                              "parameters": {"title": "x"}}, headers=admin)  # fmt: skip
    assert (refused.status_code, refused.headers["content-type"]) == (409, PROBLEM)
    assert refused.json()["title"] == "The association is being offboarded"
    assert (
        "a new service is not possible: the association verein-a is being offboarded"
        in refused.json()["detail"]
    )
    assert api.client.get(path, headers=other).status_code == 404

    canceled = api.client.delete(path, headers=admin)
    assert canceled.json()["state"] == "canceled"

    started = api.client.post(
        path, json={"confirm": "verein-a", "delete_backups_now": True}, headers=api.operator
    )
    assert started.status_code == 202, started.text
    assert started.json()["job"]["kind"] == "offboard"
    assert api.dispatcher.sent == [started.json()["job"]["id"]]
    again = api.client.post(path, json={"confirm": "verein-a"}, headers=api.operator)
    assert (again.status_code, again.headers["content-type"]) == (409, PROBLEM)
    record = api.client.get(f"/api/v1/tenants/{tenant_id}/deletion-record", headers=api.operator)
    assert record.status_code == 404
    assert "its record is written when done" in record.json()["detail"]
    assert api.client.get(f"/api/v1/tenants/{tenant_id}/deletion-record", headers=admin).status_code == 403


def test_the_backups_go_now_when_asked_and_the_records_are_listed_for_operators(api: Api) -> None:
    tenant_id, admin = api.tenant("verein-a")
    path = f"/api/v1/tenants/{tenant_id}/offboarding"
    now = f"{path}/delete-backups-now"
    assert api.client.post(now, headers=admin).status_code == 404  # nothing asked for yet
    assert api.client.post(path, json={"confirm": "verein-a"}, headers=admin).status_code == 202
    member = api.token(role=Role.MEMBER, tenant_id=tenant_id)
    assert api.client.post(now, headers=member).status_code == 403
    asked = api.client.post(now, headers=admin)
    assert asked.status_code == 202, asked.text
    assert (asked.json()["offboarding"]["delete_backups_now"], asked.json()["job"]) == (True, None)
    assert api.client.get(path, headers=admin).json()["delete_backups_now"] is True

    listed = api.client.get("/api/v1/deletion-records", headers=api.operator)
    assert (listed.status_code, listed.json()) == (200, {"items": [], "next": None})
    assert api.client.get("/api/v1/deletion-records", headers=admin).status_code == 403


def test_the_deletion_records_page_with_a_cursor(api: Api) -> None:
    with session_factory(api.db_url)() as session:
        made = [offboarded_record(session) for _ in range(3)]
        for n, row in enumerate(made):
            row.completed_at = utcnow() - timedelta(days=3 - n)
        ids = [row.id for row in made]
        session.commit()
    first = api.client.get("/api/v1/deletion-records?limit=2", headers=api.operator).json()
    second = api.client.get(f"/api/v1/deletion-records?limit=2&cursor={first['next']}", headers=api.operator)
    assert [r["id"] for r in first["items"] + second.json()["items"]] == ids
    assert second.json()["next"] is None
    assert first["items"][0]["slug"] == "verein-alt"
    assert first["items"][0]["final_export"][0]["sha256"] == "ab" * 32
