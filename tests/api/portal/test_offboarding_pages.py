"""The offboarding pages: an association's admin is offered its exports first, confirms with the short
name and sees the waiting period (and cancels it); members and other associations are kept out; the
operator reads the deletion record, in English and German."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from provisioner.db import session_factory
from provisioner.models import Job, Offboarding
from provisioner.timeutil import utcnow
from tests.support.offboarding import offboarded_record
from tests.support.portal import People, csrf_of, request_homepage


def test_an_admin_asks_for_the_offboarding_sees_it_waiting_and_cancels_it(people: People) -> None:
    path = f"/associations/{people.tenant_a}/offboarding"
    page = people.admin_a.get(path)
    assert page.status_code == 200
    assert "First: take your data with you" in page.text
    wrong = people.admin_a.post(path, data={"csrf_token": csrf_of(page.text), "confirm": "verein"})
    assert wrong.status_code == 422
    assert 'role="alert"' in wrong.text
    asked = people.admin_a.post(
        path, data={"csrf_token": csrf_of(page.text), "confirm": "verein-a"}, follow_redirects=True
    )
    assert "Nothing is deleted before" in asked.text
    assert "Offboarding is asked for" in people.operator.get(path).text
    german = people.admin_a.get(path, headers={"Accept-Language": "de"}).text
    assert "Vor " in german or "vor " in german
    canceled = people.admin_a.post(
        f"{path}/cancel", data={"csrf_token": csrf_of(asked.text)}, follow_redirects=True
    )
    assert "Type the association" in canceled.text
    assert people.member_a.get(path).status_code == 403
    assert people.admin_b.get(path).status_code == 404


def test_the_operator_reads_the_deletion_record_in_both_languages(people: People, api) -> None:  # type: ignore[no-untyped-def]
    with session_factory(api.db_url)() as session:
        gone = offboarded_record(session).tenant_id
        session.commit()
    path = f"/operator/deletion-records/{gone}"
    english = people.operator.get(path)
    assert english.status_code == 200
    assert "Deletion record of Verein Alt e.V." in english.text
    assert "ab" * 32 in english.text
    german = people.operator.get(path, headers={"Accept-Language": "de"}).text
    assert "Löschnachweis von Verein Alt e.V." in german
    assert people.admin_a.get(path).status_code == 403


def test_the_page_offers_the_export_of_everything_and_says_how_long_it_waits(people: People) -> None:
    path = f"/associations/{people.tenant_a}/offboarding"
    assert 'action="/team/exports"' not in people.admin_a.get(path).text  # nothing to export yet
    request_homepage(people.admin_a, title="T")
    page = people.admin_a.get(path).text
    assert 'action="/team/exports"' in page
    assert "nothing is deleted for 72 hours" in page
    assert "The backups are kept 30 days after the rest is deleted" in page
    assert "it starts at once" in people.operator.get(path).text
    german = people.admin_a.get(path, headers={"Accept-Language": "de"}).text
    assert "72 Stunden" in german
    assert "30 Tage" in german


def test_the_backups_are_deleted_now_when_asked_from_the_page(people: People) -> None:
    path = f"/associations/{people.tenant_a}/offboarding"
    page = people.admin_a.get(path)
    asked = people.admin_a.post(
        path, data={"csrf_token": csrf_of(page.text), "confirm": "verein-a"}, follow_redirects=True
    )
    assert "Delete the backups now" in asked.text
    done = people.admin_a.post(
        f"{path}/delete-backups-now", data={"csrf_token": csrf_of(asked.text)}, follow_redirects=True
    )
    assert done.status_code == 200
    assert "The backups are deleted with the rest" in done.text
    assert "Delete the backups now" not in done.text


def test_the_operator_finds_every_deletion_record_in_a_list(people: People, api) -> None:  # type: ignore[no-untyped-def]
    assert "No association has been offboarded yet." in people.operator.get("/operator/deletion-records").text
    with session_factory(api.db_url)() as session:
        gone = offboarded_record(session).tenant_id
        session.commit()
    listed = people.operator.get("/operator/deletion-records")
    assert f'href="/operator/deletion-records/{gone}"' in listed.text
    assert "Verein Alt e.V." in listed.text
    german = people.operator.get("/operator/deletion-records", headers={"Accept-Language": "de"})
    assert "Löschnachweise" in german.text
    assert 'href="/operator/deletion-records"' in people.operator.get("/operator/tenants").text
    assert people.admin_a.get("/operator/deletion-records").status_code == 403


def test_an_operator_has_kept_backups_deleted_now(people: People, api) -> None:  # type: ignore[no-untyped-def]
    path = f"/associations/{people.tenant_a}/offboarding"
    page = people.admin_a.get(path)
    people.admin_a.post(path, data={"csrf_token": csrf_of(page.text), "confirm": "verein-a"})
    with session_factory(api.db_url)() as session:
        kept = session.scalars(select(Offboarding)).one()
        kept.state, kept.backups_due_at = "retaining", utcnow() + timedelta(days=30)
        session.commit()
    shown = people.operator.get(path)
    assert "The backups are kept until" in shown.text
    done = people.operator.post(
        f"{path}/delete-backups-now", data={"csrf_token": csrf_of(shown.text)}, follow_redirects=True
    )
    assert "The backups are being deleted now." in done.text
    assert "Delete the backups now" not in done.text
    with session_factory(api.db_url)() as session:
        [job] = session.scalars(select(Job).where(Job.kind == "offboard")).all()
    assert api.dispatcher.sent == [job.id]
