"""Quotas, names and hostnames hold when requests arrive at the same moment.

Threads with a session each, released together, on both databases the product supports: PostgreSQL
(each request in its own connection and transaction, as N API processes run them) and SQLite (the
embedded default, one writer at a time).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from provisioner.db import session_factory
from provisioner.errors import Conflict
from provisioner.instances.service import request_instance
from provisioner.models import Instance, Tenant
from provisioner.tenants.quotas import QuotaExceeded
from tests.support import factories
from tests.support.races import Request, at_once


def _tenants(db_url: str, *slugs: str, quota: int = 100) -> list[str]:
    with session_factory(db_url)() as session:
        ids = []
        for slug in slugs:
            row = factories.tenant(session, slug)
            row.quota_instances, row.quota_memory_mb, row.quota_disk_gb = quota, 10**6, 10**6
            ids.append(row.id)
        session.commit()
        return ids


def _homepage(tenant_id: str, name: str, subdomain: str | None = None) -> Request:
    def request(n: int, session: Any) -> object:
        owner = session.get_one(Tenant, tenant_id)
        return request_instance(
            session,
            actor=factories.admin_of(owner),
            catalog=factories.CATALOG,
            template="homepage",
            name=name.format(n=n),
            parameters={"title": "Verein"},
            tenant_id=None,
            subdomain=subdomain,
        )

    return request


def _live(db_url: str) -> int:
    with session_factory(db_url)() as session:
        return session.scalar(select(func.count()).select_from(Instance)) or 0


def test_thirty_requests_at_once_stay_within_a_quota_of_ten(db_url: str) -> None:
    (tenant_id,) = _tenants(db_url, "verein-a", quota=10)
    outcomes = at_once(db_url, 30, _homepage(tenant_id, "site-{n}"))
    assert sum(isinstance(o, Instance) for o in outcomes) == 10
    assert sum(isinstance(o, QuotaExceeded) for o in outcomes) == 20
    assert _live(db_url) == 10


def test_five_requests_for_one_name_make_one_instance(db_url: str) -> None:
    (tenant_id,) = _tenants(db_url, "verein-a")
    outcomes = at_once(db_url, 5, _homepage(tenant_id, "site", subdomain=None))
    assert sum(isinstance(o, Instance) for o in outcomes) == 1
    refused = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(refused) == 4
    assert all("already has an instance called 'site'" in r.detail for r in refused)
    assert _live(db_url) == 1


def test_three_associations_asking_for_one_hostname_get_it_once(db_url: str) -> None:
    tenants = _tenants(db_url, "verein-a", "verein-b", "verein-c")

    def request(n: int, session: Any) -> object:
        return _homepage(tenants[n], "site", subdomain="fest")(n, session)

    outcomes = at_once(db_url, 3, request)
    assert sum(isinstance(o, Instance) for o in outcomes) == 1
    refused = [o for o in outcomes if isinstance(o, Conflict)]
    assert [r.errors for r in refused] == [
        [{"field": "body.subdomain", "message": "fest.localhost is taken; choose another"}]
    ] * 2
    assert _live(db_url) == 1
