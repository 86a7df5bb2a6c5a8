"""Exports on a service's page and of everything on the association's page: an admin exports and
downloads the archive; members and other associations cannot; the pages say what an export is, in
German and in English."""

from __future__ import annotations

import hashlib

from provisioner.db import session_factory
from provisioner.instances.states import InstanceState
from provisioner.models import Export, Instance, Job
from tests.support.exports import sealed_ready
from tests.support.portal import People, csrf_of, request_homepage


def _running_site(people: People, api) -> str:  # type: ignore[no-untyped-def]
    instance_id = request_homepage(people.admin_a, title="T")
    with session_factory(api.db_url)() as session:
        session.get_one(Instance, instance_id).state = InstanceState.RUNNING.value
        session.commit()
    return instance_id


def test_an_admin_exports_all_data_from_the_service_page(people: People, api) -> None:  # type: ignore[no-untyped-def]
    instance_id = _running_site(people, api)
    page = people.admin_a.get(f"/services/{instance_id}").text
    assert "Take your data with you" in page
    assert "Export all data" in page
    german = people.admin_a.get(f"/services/{instance_id}", headers={"Accept-Language": "de"}).text
    assert "Nehmt eure Daten mit" in german
    assert "Alle Daten exportieren" in german
    assert people.admin_a.post(f"/services/{instance_id}/exports", data={}).status_code == 403
    response = people.admin_a.post(
        f"/services/{instance_id}/exports", data={"csrf_token": csrf_of(page)}, follow_redirects=False
    )
    assert response.status_code == 303
    job_id = response.headers["location"].removeprefix("/jobs/")
    assert api.dispatcher.sent == [job_id]
    with session_factory(api.db_url)() as session:
        assert session.get_one(Job, job_id).kind == "export"
    again = people.admin_a.post(f"/services/{instance_id}/exports", data={"csrf_token": csrf_of(page)})
    assert again.status_code == 409
    assert "An export cannot start now." in again.text
    assert "being made already" in again.text


def _sealed_ready(people: People, api, export_id: str) -> bytes:  # type: ignore[no-untyped-def]
    return sealed_ready(people.admin_a.app.state.settings, api.db_url, export_id)  # type: ignore[attr-defined]


def test_a_ready_export_is_downloaded_by_admins_only(people: People, api) -> None:  # type: ignore[no-untyped-def]
    instance_id = _running_site(people, api)
    page = people.admin_a.get(f"/services/{instance_id}").text
    people.admin_a.post(f"/services/{instance_id}/exports", data={"csrf_token": csrf_of(page)})
    with session_factory(api.db_url)() as session:
        export_id = session.query(Export).one().id
    plain = _sealed_ready(people, api, export_id)
    link = f"/services/{instance_id}/exports/{export_id}/archive"
    page = people.admin_a.get(f"/services/{instance_id}").text
    assert link in page
    assert hashlib.sha256(plain).hexdigest() in page
    downloaded = people.admin_a.get(link)
    assert downloaded.status_code == 200
    assert downloaded.content == plain
    member_page = people.member_a.get(f"/services/{instance_id}").text
    assert link not in member_page
    assert "Export all data" not in member_page
    assert "admins can export its data." in member_page
    assert people.member_a.get(link).status_code == 403
    assert people.admin_b.get(link).status_code == 404


def test_an_admin_exports_everything_from_the_association_s_page(people: People, api) -> None:  # type: ignore[no-untyped-def]
    page = people.admin_a.get("/team").text
    assert "Take all your data with you" in page
    german = people.admin_a.get("/team", headers={"Accept-Language": "de"}).text
    assert "Nehmt alle eure Daten mit" in german
    assert "Alles exportieren" in german
    response = people.admin_a.post(
        "/team/exports", data={"csrf_token": csrf_of(page), "tenant": people.tenant_b}, follow_redirects=False
    )
    assert response.status_code == 303  # an association's admin exports its own, whatever the form says
    job_id = response.headers["location"].removeprefix("/jobs/")
    with session_factory(api.db_url)() as session:
        job = session.get_one(Job, job_id)
        assert (job.kind, job.tenant_id) == ("association_export", people.tenant_a)
        export_id = session.query(Export).one().id
    job_page = people.admin_a.get(f"/jobs/{job_id}", headers={"Accept-Language": "de"}).text
    assert "Alles exportieren" in job_page or "Export von allem" in job_page
    assert people.admin_b.get(f"/jobs/{job_id}").status_code == 404
    again = people.admin_a.post("/team/exports", data={"csrf_token": csrf_of(page)})
    assert again.status_code == 409
    assert "whole association is being made already" in again.text

    plain = _sealed_ready(people, api, export_id)
    link = f"/team/exports/{export_id}/archive"
    assert link in people.admin_a.get("/team").text
    assert people.admin_a.get(link).content == plain
    member_page = people.member_a.get("/team").text
    assert link not in member_page
    assert "Export everything" not in member_page
    assert people.member_a.get(link).status_code == 403
    assert people.admin_b.get(link).status_code == 404
    operator_page = people.operator.get(f"/team?tenant={people.tenant_a}").text
    assert link in operator_page
    assert "Export everything" in operator_page
