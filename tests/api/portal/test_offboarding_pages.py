"""The offboarding pages: an association's admin is offered its exports first, confirms with the short
name and sees the waiting period (and cancels it); members and other associations are kept out; the
operator reads the deletion record, in English and German."""

from __future__ import annotations

from provisioner.db import session_factory
from tests.support.offboarding import offboarded_record
from tests.support.portal import People, csrf_of


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
