"""An association's admin chooses when its service is backed up; members look; others see nothing."""

from __future__ import annotations

import re
from html import unescape

from fastapi.testclient import TestClient

from api.portal.i18n import Texts
from provisioner.db import session_factory
from provisioner.models import Schedule
from provisioner.schedules.service import ScheduleKind, create_schedule
from tests.support import factories
from tests.support.portal import People, csrf_of, request_homepage

GERMAN = {"Accept-Language": "de"}


def _blog(people: People) -> str:
    """A WordPress (a service that keeps data) of association A."""
    form = people.admin_a.get("/catalog/wordpress/request").text
    response = people.admin_a.post(
        "/catalog/wordpress/request",
        data={"csrf_token": csrf_of(form), "name": "blog", "param-language": "de_DE"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return response.headers["location"].rsplit("/", 1)[1]


def _own(api, instance_id: str) -> Schedule | None:  # type: ignore[no-untyped-def]
    with session_factory(api.db_url)() as session:
        return session.query(Schedule).filter_by(instance_id=instance_id, kind="backup").one_or_none()


def _choose(client: TestClient, instance_id: str, **fields: str) -> int:
    page = client.get(f"/services/{instance_id}/backup-schedule").text
    response = client.post(
        f"/services/{instance_id}/backup-schedule",
        data={"csrf_token": csrf_of(page), **fields},
        follow_redirects=False,
    )
    return response.status_code


def _lab_default(api, cron: str) -> None:  # type: ignore[no-untyped-def]
    with session_factory(api.db_url)() as session:
        create_schedule(
            session,
            actor=factories.OPERATOR,
            settings=api.client.app.state.settings,
            catalog=factories.CATALOG,
            kind=ScheduleKind.BACKUP,
            instance_id=None,
            template="wordpress",
            cron=cron,
            interval_seconds=None,
        )
        session.commit()


def test_the_admin_chooses_a_daily_a_weekly_and_an_hourly_backup(people: People, api) -> None:  # type: ignore[no-untyped-def]
    blog = _blog(people)
    service = people.admin_a.get(f"/services/{blog}").text
    assert "The lab has set no automatic backups for this service." in service
    assert f'href="/services/{blog}/backup-schedule">Change when backups run…' in service

    assert _choose(people.admin_a, blog, choice="daily", time="03:15", weekday="1", hours="6") == 303
    own = _own(api, blog)
    assert own is not None
    assert (own.cron, own.interval_seconds, own.enabled) == ("15 3 * * *", None, True)
    page = people.admin_a.get(f"/services/{blog}/backup-schedule?changed=1").text
    assert "The backup schedule is saved." in page
    assert "Backups run every day at 03:15. This service has a schedule of its own." in page
    next_run = Texts("en").moment(own.next_run_at)
    assert f'<time datetime="{own.next_run_at.isoformat()}">{next_run}</time> (time zone UTC)' in page
    assert "3:15\N{NARROW NO-BREAK SPACE}AM UTC" in next_run
    assert re.search(r'<input type="radio" id="field-choice-daily" name="choice" value="daily" checked', page)
    german = people.admin_a.get(f"/services/{blog}", headers=GERMAN).text
    assert "Gesichert wird jeden Tag um 03:15 Uhr. Für diesen Dienst gilt ein eigener Zeitplan." in german
    assert "Nächste Sicherung:" in german

    assert _choose(people.admin_a, blog, choice="weekly", time="04:00", weekday="0") == 303
    assert _own(api, blog).cron == "0 4 * * 0"  # type: ignore[union-attr]
    german = people.admin_a.get(f"/services/{blog}/backup-schedule", headers=GERMAN).text
    assert "Gesichert wird jeden Sonntag um 04:00 Uhr." in german
    assert '<option value="0" selected>Sonntag</option>' in german

    assert _choose(people.admin_a, blog, choice="hours", hours="6") == 303
    own = _own(api, blog)
    assert (own.cron, own.interval_seconds) == (None, 6 * 3600)  # type: ignore[union-attr]
    assert "Backups run every 6 hours." in people.admin_a.get(f"/services/{blog}").text
    assert "Gesichert wird alle 6 Stunden." in people.admin_a.get(f"/services/{blog}", headers=GERMAN).text


def test_off_and_back_to_the_labs_default(people: People, api) -> None:  # type: ignore[no-untyped-def]
    blog = _blog(people)
    _lab_default(api, "30 2 * * *")
    page = unescape(people.admin_a.get(f"/services/{blog}/backup-schedule").text)
    assert "Backups run every day at 02:30. This is the lab's default." in page
    assert re.search(r'value="default" checked', page)

    assert _choose(people.admin_a, blog, choice="off") == 303
    own = _own(api, blog)
    assert own is not None, "a paused schedule of its own keeps the lab's default away"
    assert (own.cron, own.enabled) == ("30 2 * * *", False)
    page = people.admin_a.get(f"/services/{blog}").text
    assert "Automatic backups are turned off for this service." in page
    german = people.admin_a.get(f"/services/{blog}/backup-schedule", headers=GERMAN).text
    assert "Automatische Sicherungen sind für diesen Dienst ausgeschaltet." in german
    assert "Derzeit: jeden Tag um 02:30 Uhr." in german, "the default choice says what it would be"

    assert _choose(people.admin_a, blog, choice="hours", hours="12") == 303
    own = _own(api, blog)
    assert (own.interval_seconds, own.enabled) == (12 * 3600, True)  # type: ignore[union-attr]

    assert _choose(people.admin_a, blog, choice="default") == 303
    assert _own(api, blog) is None
    assert "This is the lab's default." in unescape(people.admin_a.get(f"/services/{blog}").text)


def test_a_timetable_set_by_the_lab_is_described_as_it_is(people: People, api) -> None:  # type: ignore[no-untyped-def]
    blog = _blog(people)
    _lab_default(api, "0 3 1 * *")
    page = people.admin_a.get(f"/services/{blog}/backup-schedule").text
    assert "Backups run on a timetable of its own (0 3 1 * *)." in page
    with session_factory(api.db_url)() as session:
        create_schedule(
            session,
            actor=factories.OPERATOR,
            settings=api.client.app.state.settings,
            catalog=factories.CATALOG,
            kind=ScheduleKind.BACKUP,
            instance_id=blog,
            template=None,
            cron="0 4 * * 1-5",
            interval_seconds=None,
        )
        session.commit()
    page = people.admin_a.get(f"/services/{blog}/backup-schedule").text
    assert "Backups run on a timetable of its own (0 4 * * 1-5)." in page
    assert " checked" not in page, "no simple choice is preselected, so an unchanged form changes nothing"
    assert _choose(people.admin_a, blog) == 422
    assert _own(api, blog).cron == "0 4 * * 1-5"  # type: ignore[union-attr]


def test_wrong_choices_are_tied_to_their_fields_in_both_languages(people: People, api) -> None:  # type: ignore[no-untyped-def]
    blog = _blog(people)
    token = csrf_of(people.admin_a.get(f"/services/{blog}/backup-schedule").text)
    cases = [
        ({}, "field-choice-daily", "Please choose one of these."),
        ({"choice": "daily", "time": "25:00"}, "field-time", "Please give a time of day such as 02:30."),
        ({"choice": "weekly", "time": "03:00", "weekday": "9"}, "field-weekday", "Please choose a day."),
        ({"choice": "hours", "hours": "0"}, "field-hours", "a whole number of hours from 1 to 24."),
        ({"choice": "hours", "hours": "often"}, "field-hours", "Please give a whole number"),
    ]
    for fields, field_id, message in cases:
        response = people.admin_a.post(
            f"/services/{blog}/backup-schedule", data={"csrf_token": token, **fields}
        )
        assert response.status_code == 422, fields
        tag = re.search(rf'<(?:input|select) [^>]*id="{field_id}"[^>]*>', response.text)
        assert tag, fields
        assert 'aria-invalid="true"' in tag.group(0), fields
        error_id = "field-choice-error" if field_id.startswith("field-choice") else f"{field_id}-error"
        assert f'id="{error_id}"' in response.text, fields
        assert f'aria-describedby="{error_id}"' in response.text, fields
        assert message in response.text, fields
    german = people.admin_a.post(
        f"/services/{blog}/backup-schedule",
        data={"csrf_token": token, "choice": "daily", "time": "später"},
        headers=GERMAN,
    )
    assert german.status_code == 422
    assert "Bitte geben Sie eine Uhrzeit an, zum Beispiel 02:30." in german.text
    assert 'value="später"' in german.text, "what was typed stays in the form"
    assert _own(api, blog) is None


def test_members_look_and_the_lab_may_change(people: People, api) -> None:  # type: ignore[no-untyped-def]
    blog = _blog(people)
    assert _choose(people.admin_a, blog, choice="daily", time="01:00") == 303
    page = unescape(people.member_a.get(f"/services/{blog}/backup-schedule").text)
    assert "Backups run every day at 01:00." in page
    assert 'name="choice"' not in page
    assert "Your association's admins can change this." in page
    assert (
        f'href="/services/{blog}/backup-schedule">When backups run<'
        in people.member_a.get(f"/services/{blog}").text
    )
    refused = people.member_a.post(
        f"/services/{blog}/backup-schedule",
        data={"csrf_token": csrf_of(people.member_a.get("/services").text), "choice": "default"},
    )
    assert refused.status_code == 403
    assert _own(api, blog) is not None
    assert _choose(people.operator, blog, choice="weekly", time="05:30", weekday="6") == 303
    assert _own(api, blog).cron == "30 5 * * 6"  # type: ignore[union-attr]


def test_the_form_needs_its_token_and_other_associations_see_nothing(people: People, api) -> None:  # type: ignore[no-untyped-def]
    blog = _blog(people)
    path = f"/services/{blog}/backup-schedule"
    fields = {"choice": "daily", "time": "03:00"}
    assert people.admin_a.post(path, data=fields).status_code == 403
    assert people.admin_a.post(path, data={**fields, "csrf_token": "forged"}).status_code == 403
    theirs = people.admin_b.get(path)
    missing = people.admin_b.get("/services/ins_doesnotexist/backup-schedule")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.text.replace(blog, "ins_doesnotexist") == missing.text
    token = csrf_of(people.admin_b.get("/services").text)
    assert people.admin_b.post(path, data={**fields, "csrf_token": token}).status_code == 404
    assert _own(api, blog) is None


def test_a_service_without_data_needs_no_backup_schedule(people: People, api) -> None:  # type: ignore[no-untyped-def]
    site = request_homepage(people.admin_a, title="T")
    page = people.admin_a.get(f"/services/{site}/backup-schedule").text
    assert "This service keeps no data of its own, so it needs no backups." in page
    assert 'name="choice"' not in page
    assert _choose(people.admin_a, site, choice="daily", time="03:00") == 409
    assert _own(api, site) is None
