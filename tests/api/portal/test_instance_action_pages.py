"""Upkeep of a running service from its page: the same jobs as the API's routes, refused as they are."""

from __future__ import annotations

from sqlalchemy import select

from provisioner.db import session_factory
from provisioner.jobs.states import JobKind
from provisioner.models import Job, Tenant
from tests.support import factories
from tests.support.portal import People, csrf_of
from tests.support.running import running_homepage


def _running_site(api, people: People) -> tuple[str, str, str]:  # type: ignore[no-untyped-def]
    with session_factory(api.db_url)() as session:
        first = factories.server(session, "s1", memory_mb=4096)
        second = factories.server(session, "s2", memory_mb=4096)
        site = running_homepage(session, session.get_one(Tenant, people.tenant_a), first)
        session.commit()
        return site.id, first.id, second.id


def _jobs(api) -> list[tuple[str, str | None, str | None]]:  # type: ignore[no-untyped-def]
    with session_factory(api.db_url)() as session:
        rows = session.scalars(select(Job).order_by(Job.created_at)).all()
        return [(job.kind, job.target_version, job.target_server_id) for job in rows]


def test_the_operator_updates_moves_and_deploys_again(people: People, api) -> None:  # type: ignore[no-untyped-def]
    site, _first, second = _running_site(api, people)
    page = people.operator.get(f"/services/{site}").text
    assert '<option value="1.1">1.1</option>' in page, "the versions it may take"
    assert f'<option value="{second}">s2</option>' in page
    token = csrf_of(page)
    assert people.operator.post(f"/services/{site}/redeploy", data={}).status_code == 403, "no CSRF token"
    updated = people.operator.post(
        f"/services/{site}/update", data={"csrf_token": token, "version": "1.1"}, follow_redirects=False
    )
    assert updated.status_code == 303
    assert updated.headers["location"].startswith("/jobs/job_")
    moved = people.operator.post(
        f"/services/{site}/move", data={"csrf_token": token, "server": second}, follow_redirects=False
    )
    assert moved.status_code == 303
    again = people.operator.post(
        f"/services/{site}/redeploy", data={"csrf_token": token}, follow_redirects=False
    )
    assert again.status_code == 303
    assert _jobs(api) == [
        (JobKind.UPDATE, "1.1", None),
        (JobKind.MOVE, None, second),
        (JobKind.DEPLOY, None, None),
    ]
    assert len(api.dispatcher.sent) == 3


def test_a_refused_action_says_why_on_the_services_page(people: People, api) -> None:  # type: ignore[no-untyped-def]
    site, _first, _second = _running_site(api, people)
    token = csrf_of(people.operator.get(f"/services/{site}").text)
    refused = people.operator.post(f"/services/{site}/update", data={"csrf_token": token, "version": "0.9"})
    assert refused.status_code == 422
    assert "The service was not updated." in refused.text
    assert "homepage has no version &#39;0.9&#39;" in refused.text
    no_reset = people.operator.post(f"/services/{site}/credentials/reset", data={"csrf_token": token})
    assert no_reset.status_code == 409, "the homepage has no credentials to reset"
    assert "The admin access was not reset." in no_reset.text
    assert _jobs(api) == []


def test_admins_keep_their_service_up_but_only_operators_move_it(people: People, api) -> None:  # type: ignore[no-untyped-def]
    site, _first, second = _running_site(api, people)
    page = people.admin_a.get(f"/services/{site}").text
    assert "/redeploy" in page
    assert "/move" not in page
    token = csrf_of(page)
    refused = people.admin_a.post(f"/services/{site}/move", data={"csrf_token": token, "server": second})
    assert refused.status_code == 403
    member = people.member_a.get(f"/services/{site}").text
    assert "/redeploy" not in member
    member_token = csrf_of(member)
    assert (
        people.member_a.post(f"/services/{site}/redeploy", data={"csrf_token": member_token}).status_code
        == 403
    )
    other = people.admin_b.post(
        f"/services/{site}/redeploy", data={"csrf_token": csrf_of(people.admin_b.get("/services").text)}
    )
    assert other.status_code == 404, "another association's service does not exist for them"
    assert _jobs(api) == []
