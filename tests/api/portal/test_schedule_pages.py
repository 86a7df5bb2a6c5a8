"""The lab's schedules in the portal: list, add, change, pause and remove, with errors tied to fields."""

from __future__ import annotations

import re

from provisioner.db import session_factory
from provisioner.models import Schedule
from tests.support.portal import People, csrf_of


def _schedules(api) -> list[Schedule]:  # type: ignore[no-untyped-def]
    with session_factory(api.db_url)() as session:
        return list(session.query(Schedule).all())


def test_an_operator_adds_changes_and_removes_a_schedule(people: People, api) -> None:  # type: ignore[no-untyped-def]
    page = people.operator.get("/operator/schedules").text
    assert "No schedules yet." in page
    token = csrf_of(page)
    added = people.operator.post(
        "/operator/schedules",
        data={
            "csrf_token": token,
            "kind": "backup",
            "template": "wordpress",
            "cron": "30 2 * * *",
            "enabled": "on",
        },
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    (schedule,) = _schedules(api)
    assert (schedule.kind, schedule.template, schedule.cron, schedule.enabled) == (
        "backup",
        "wordpress",
        "30 2 * * *",
        True,
    )
    listed = people.operator.get("/operator/schedules").text
    assert 'value="30 2 * * *"' in listed
    changed = people.operator.post(
        f"/operator/schedules/{schedule.id}",
        data={"csrf_token": token, "interval": "90"},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    (schedule,) = _schedules(api)
    assert (schedule.cron, schedule.interval_seconds, schedule.enabled) == (None, 5400, False)
    removed = people.operator.post(
        f"/operator/schedules/{schedule.id}/remove", data={"csrf_token": token}, follow_redirects=False
    )
    assert removed.status_code == 303
    assert _schedules(api) == []


def test_wrong_timing_and_targets_are_tied_to_their_fields(people: People, api) -> None:  # type: ignore[no-untyped-def]
    token = csrf_of(people.operator.get("/operator/schedules").text)
    cases = [
        ({"template": "wordpress", "cron": "every night"}, "new-cron"),
        ({"template": "wordpress", "interval": "soon"}, "new-interval"),
        ({"template": "wordpress"}, "new-cron"),
        ({"template": "wordpress", "instance": "ins_x", "cron": "0 3 * * *"}, "new-instance"),
        ({"instance": "ins_missing", "cron": "0 3 * * *"}, "new-instance"),
    ]
    for fields, field_id in cases:
        response = people.operator.post(
            "/operator/schedules", data={"csrf_token": token, "kind": "backup", **fields}
        )
        assert response.status_code == 422, fields
        tag = re.search(rf'<input id="{field_id}"[^>]*>', response.text)
        assert tag, fields
        assert 'aria-invalid="true"' in tag.group(0), fields
        assert f"{field_id}-error" in tag.group(0), fields
    assert _schedules(api) == []


def test_only_operators_and_only_with_the_form_token(people: People, api) -> None:  # type: ignore[no-untyped-def]
    data = {"kind": "backup", "template": "wordpress", "cron": "0 3 * * *"}
    assert people.operator.post("/operator/schedules", data=data).status_code == 403
    assert people.admin_a.get("/operator/schedules").status_code == 403
    assert people.member_a.get("/operator/schedules").status_code == 403
    token = csrf_of(people.admin_a.get("/services").text)
    assert people.admin_a.post("/operator/schedules", data={"csrf_token": token, **data}).status_code == 403
    assert _schedules(api) == []
    operator_token = csrf_of(people.operator.get("/operator/schedules").text)
    missing = people.operator.post(
        "/operator/schedules/sch_missing/remove", data={"csrf_token": operator_token}
    )
    assert missing.status_code == 404
