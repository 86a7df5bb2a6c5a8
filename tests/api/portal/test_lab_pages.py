"""The lab's audit log (filtered by association, exported as CSV) and associations with their quotas."""

from __future__ import annotations

import re

from sqlalchemy import select

from provisioner.audit.log import Action, record
from provisioner.db import session_factory
from provisioner.models import AuditEntry, Tenant
from tests.support.portal import People, csrf_of


def _entries(api, people: People) -> None:  # type: ignore[no-untyped-def]
    with session_factory(api.db_url)() as session:
        record(
            session,
            Action(actor="tok_a", action="POST /instances", tenant_id=people.tenant_a, target_id="ins_a1"),
        )
        record(session, Action(actor="tok_b", action="DELETE /instances/x", tenant_id=people.tenant_b))
        record(session, Action(actor="tok_b", action="=HYPERLINK(1)", tenant_id=people.tenant_b))
        session.commit()


def test_the_audit_log_filters_by_association_and_exports_csv(people: People, api) -> None:  # type: ignore[no-untyped-def]
    _entries(api, people)
    everything = people.operator.get("/operator/audit").text
    assert "POST /instances" in everything
    assert "DELETE /instances/x" in everything
    only_a = people.operator.get(f"/operator/audit?tenant={people.tenant_a}").text
    assert "POST /instances" in only_a
    assert "DELETE /instances/x" not in only_a
    assert f'href="/operator/audit.csv?tenant={people.tenant_a}"' in only_a
    export = people.operator.get(f"/operator/audit.csv?tenant={people.tenant_b}")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    lines = export.text.splitlines()
    assert lines[0] == "time,actor,tenant,action,target,client,status,outcome"
    assert any(",DELETE /instances/x," in line for line in lines)
    assert all(people.tenant_a not in line for line in lines), "only the chosen association"
    assert ",'=HYPERLINK(1)," in export.text, "a cell is never taken for a formula"


def test_only_operators_read_the_audit_log_and_the_quotas(people: People) -> None:
    for path in ("/operator/audit", "/operator/audit.csv", "/operator/tenants"):
        assert people.admin_a.get(path).status_code == 403, path
        assert people.member_a.get(path).status_code == 403, path
    token = csrf_of(people.admin_a.get("/services").text)
    refused = people.admin_a.post(f"/operator/tenants/{people.tenant_a}/quota", data={"csrf_token": token})
    assert refused.status_code == 403


def test_an_operator_changes_a_quota_and_sees_use_against_it(people: People, api) -> None:  # type: ignore[no-untyped-def]
    form = people.admin_a.get("/catalog/homepage/request").text
    people.admin_a.post(
        "/catalog/homepage/request",
        data={"csrf_token": csrf_of(form), "name": "site", "param-title": "T", "param-language": "de"},
    )
    page = people.operator.get("/operator/tenants", headers={"Accept-Language": "de"}).text
    assert re.search(rf'id="q-{people.tenant_a}-instances-hint">1 von 10 genutzt', page)
    path = f"/operator/tenants/{people.tenant_a}/quota"
    assert people.operator.post(path, data={"instances": "3"}).status_code == 403, "no form token"
    wrong = people.operator.post(
        path, data={"csrf_token": csrf_of(page), "instances": "drei", "memory_mb": "", "disk_gb": "-1"}
    )
    assert wrong.status_code == 422
    for key in ("instances", "disk_gb"):
        field = re.search(rf'<input id="q-{people.tenant_a}-{key}"[^>]*>', wrong.text)
        assert field, key
        assert 'aria-invalid="true"' in field.group(0), key
        assert f"q-{people.tenant_a}-{key}-error" in field.group(0)
    done = people.operator.post(
        path, data={"csrf_token": csrf_of(page), "instances": "3", "memory_mb": "", "disk_gb": "20"}
    )
    assert done.status_code == 200
    assert "The quota was changed." in done.text
    assert re.search(rf'id="q-{people.tenant_a}-instances-hint">1 used of 3<', done.text)
    with session_factory(api.db_url)() as session:
        tenant = session.get_one(Tenant, people.tenant_a)
        assert (tenant.quota_instances, tenant.quota_memory_mb, tenant.quota_disk_gb) == (3, None, 20)
    token = csrf_of(done.text)
    missing = people.operator.post("/operator/tenants/ten_missing/quota", data={"csrf_token": token})
    assert missing.status_code == 404


def test_a_change_made_in_the_portal_is_in_the_audit_log_under_the_person(people: People, api) -> None:  # type: ignore[no-untyped-def]
    form = people.admin_a.get("/catalog/homepage/request").text
    answer = people.admin_a.post(
        "/catalog/homepage/request",
        data={"csrf_token": csrf_of(form), "name": "audited", "param-title": "T", "param-language": "de"},
    )
    assert answer.status_code < 400
    with session_factory(api.db_url)() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.tenant_id == people.tenant_a)).all()
    [entry] = [e for e in entries if e.client_address is not None and e.actor.startswith("usr_")]
    assert entry.outcome == "success"
    assert entry.status_code in {200, 303}
    assert entry.action != ""
