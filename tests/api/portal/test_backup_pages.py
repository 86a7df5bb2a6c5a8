"""Backups on a service's page: back up now, restore in place or into a copy, back up before removal."""

from __future__ import annotations

import re

from provisioner.backups.repository import repository_for
from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.instances.states import InstanceState
from provisioner.models import Backup, BackupRestore, Instance, Job
from tests.support.portal import People, csrf_of, request_homepage
from tests.support.running import unused_backup_target


def _running_blog_with_a_backup(people: People, api) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A WordPress of association A, running, with one succeeded backup on an SFTP target."""
    server_id = api.server()
    form = people.admin_a.get("/catalog/wordpress/request").text
    response = people.admin_a.post(
        "/catalog/wordpress/request",
        data={"csrf_token": csrf_of(form), "name": "blog", "param-language": "de_DE"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    instance_id = response.headers["location"].rsplit("/", 1)[1]
    queue = people.operator.get("/operator/requests").text
    approved = people.operator.post(
        f"/operator/requests/{instance_id}/approve",
        data={"csrf_token": csrf_of(queue), "server": server_id},
        follow_redirects=False,
    )
    assert approved.status_code == 303
    settings = Settings()
    with session_factory(api.db_url)() as session:
        unused_backup_target(session, settings)
        instance = session.get_one(Instance, instance_id)
        instance.state = InstanceState.RUNNING.value
        repository = repository_for(session, settings, tenant_id=instance.tenant_id)
        backup = Backup(
            instance_id=instance_id,
            repository_id=repository.id,
            status="succeeded",
            version=instance.version,
            size_bytes=12_345_678,
            snapshot_id="abc123",
        )
        session.add(backup)
        session.commit()
        api.dispatcher.sent.clear()
        return instance_id, backup.id


def test_the_service_page_lists_backups_and_backs_up_now(people: People, api) -> None:  # type: ignore[no-untyped-def]
    instance_id, backup_id = _running_blog_with_a_backup(people, api)
    page = people.admin_a.get(f"/services/{instance_id}").text
    assert "12.3 MB" in page
    assert f"/services/{instance_id}/backups/{backup_id}/restore" in page
    german = people.admin_a.get(f"/services/{instance_id}", headers={"Accept-Language": "de"}).text
    assert "Jetzt sichern" in german
    refused = people.admin_a.post(f"/services/{instance_id}/backups", data={})
    assert refused.status_code == 403, "no form token, no backup"
    response = people.admin_a.post(
        f"/services/{instance_id}/backups", data={"csrf_token": csrf_of(page)}, follow_redirects=False
    )
    assert response.status_code == 303
    job_id = response.headers["location"].removeprefix("/jobs/")
    assert api.dispatcher.sent == [job_id]
    with session_factory(api.db_url)() as session:
        assert session.get_one(Job, job_id).kind == "backup"
    assert 'aria-live="polite"' in people.admin_a.get(f"/jobs/{job_id}").text


def test_a_service_without_data_says_so_and_cannot_back_up(people: People, api) -> None:  # type: ignore[no-untyped-def]
    instance_id = request_homepage(people.admin_a, title="T")
    page = people.admin_a.get(f"/services/{instance_id}").text
    assert "keeps no data of its own" in page
    assert f'action="/services/{instance_id}/backups"' not in page
    response = people.admin_a.post(f"/services/{instance_id}/backups", data={"csrf_token": csrf_of(page)})
    assert response.status_code == 409
    assert "A backup cannot start now." in response.text
    assert api.dispatcher.sent == []


def test_restore_in_place_needs_the_confirmation(people: People, api) -> None:  # type: ignore[no-untyped-def]
    instance_id, backup_id = _running_blog_with_a_backup(people, api)
    path = f"/services/{instance_id}/backups/{backup_id}/restore"
    page = people.admin_a.get(path).text
    assert "Restore into a copy" in page
    unconfirmed = people.admin_a.post(path, data={"csrf_token": csrf_of(page), "into": "place"})
    assert unconfirmed.status_code == 422
    assert re.search(
        r'<input type="checkbox" id="field-confirm"[^>]*aria-describedby="field-confirm-error"',
        unconfirmed.text,
    )
    assert api.dispatcher.sent == []
    confirmed = people.admin_a.post(
        path, data={"csrf_token": csrf_of(page), "into": "place", "confirm": "yes"}, follow_redirects=False
    )
    assert confirmed.status_code == 303
    job_id = confirmed.headers["location"].removeprefix("/jobs/")
    assert api.dispatcher.sent == [job_id]
    with session_factory(api.db_url)() as session:
        job = session.get_one(Job, job_id)
        assert (job.kind, job.instance_id) == ("restore", instance_id)
        assert session.get_one(BackupRestore, job_id).backup_id == backup_id


def test_restore_into_a_copy_names_the_copy(people: People, api) -> None:  # type: ignore[no-untyped-def]
    instance_id, backup_id = _running_blog_with_a_backup(people, api)
    path = f"/services/{instance_id}/backups/{backup_id}/restore"
    page = people.admin_a.get(path).text
    assert 'value="blog-copy"' in page, "a name for the copy is suggested"
    token = csrf_of(page)
    for name in ("Not A Name", "blog"):
        wrong = people.admin_a.post(path, data={"csrf_token": token, "into": "new", "name": name})
        assert wrong.status_code == 422, name
        assert re.search(
            r'<input id="field-name"[^>]*aria-describedby="field-name-hint field-name-error"', wrong.text
        )
        assert 'aria-invalid="true"' in wrong.text
    assert api.dispatcher.sent == []
    done = people.admin_a.post(
        path, data={"csrf_token": token, "into": "new", "name": "blog-copy"}, follow_redirects=False
    )
    assert done.status_code == 303, done.text
    # The association's copy is a request like any other: it waits for an operator, nothing runs yet.
    copy_id = done.headers["location"].removeprefix("/services/")
    assert api.dispatcher.sent == []
    with session_factory(api.db_url)() as session:
        copy = session.get_one(Instance, copy_id)
        assert (copy.name, copy.tenant_id, copy.state) == ("blog-copy", people.tenant_a, "requested")
        assert copy.copy_of_backup_id == backup_id
    assert "blog-copy" in people.admin_a.get("/services").text


def test_members_see_backups_but_cannot_start_or_restore(people: People, api) -> None:  # type: ignore[no-untyped-def]
    instance_id, backup_id = _running_blog_with_a_backup(people, api)
    page = people.member_a.get(f"/services/{instance_id}").text
    assert "12.3 MB" in page
    assert "/restore" not in page
    assert f'action="/services/{instance_id}/backups"' not in page
    token = csrf_of(people.member_a.get("/services").text)
    assert (
        people.member_a.post(f"/services/{instance_id}/backups", data={"csrf_token": token}).status_code
        == 403
    )
    restore = people.member_a.post(
        f"/services/{instance_id}/backups/{backup_id}/restore",
        data={"csrf_token": token, "into": "place", "confirm": "yes"},
    )
    assert restore.status_code == 403
    assert api.dispatcher.sent == []


def test_another_association_gets_404_like_a_missing_backup(people: People, api) -> None:  # type: ignore[no-untyped-def]
    instance_id, backup_id = _running_blog_with_a_backup(people, api)
    token = csrf_of(people.admin_b.get("/services").text)
    for path in (
        f"/services/{instance_id}/backups/{backup_id}/restore",
        f"/services/{instance_id}/backups/bak_missing/restore",
    ):
        theirs = people.admin_b.get(path)
        assert theirs.status_code == 404, path
        assert (
            people.admin_b.post(path, data={"csrf_token": token, "into": "new", "name": "x"}).status_code
            == 404
        )
    missing = people.admin_b.get("/services/ins_missing/backups/bak_missing/restore")
    theirs = people.admin_b.get(f"/services/{instance_id}/backups/{backup_id}/restore").text
    assert theirs.replace(instance_id, "ins_missing").replace(backup_id, "bak_missing") == missing.text
    assert people.admin_a.get(f"/services/{instance_id}/backups/bak_missing/restore").status_code == 404
    assert (
        people.admin_b.post(f"/services/{instance_id}/backups", data={"csrf_token": token}).status_code == 404
    )
    assert api.dispatcher.sent == []


def test_removal_offers_a_backup_first(people: People, api) -> None:  # type: ignore[no-untyped-def]
    instance_id, _backup_id = _running_blog_with_a_backup(people, api)
    page = people.admin_a.get(f"/services/{instance_id}/remove").text
    assert f'action="/services/{instance_id}/backups"' in page
    assert "Back up first" in page


def test_operators_see_backup_and_drill_flags_on_the_instances_list(people: People, api) -> None:  # type: ignore[no-untyped-def]
    instance_id, backup_id = _running_blog_with_a_backup(people, api)
    page = people.operator.get("/operator/instances").text
    row = re.search(rf'<a href="/services/{instance_id}">.*?</tr>', page, re.S)
    assert row
    assert "no recent restore drill" in row.group(0)
    with session_factory(api.db_url)() as session:
        done = session.get_one(Backup, backup_id)
        session.add(
            Backup(instance_id=instance_id, repository_id=done.repository_id, status="failed", version="1")
        )
        session.commit()
    german = people.operator.get("/operator/instances", headers={"Accept-Language": "de"}).text
    row = re.search(rf'<a href="/services/{instance_id}">.*?</tr>', german, re.S)
    assert row
    assert "letzte Sicherung fehlgeschlagen" in row.group(0)


def test_operators_are_warned_on_every_page_while_no_recovery_key_is_set(people: People, api) -> None:  # type: ignore[no-untyped-def]
    for page in ("/operator/requests", "/operator/servers", "/"):
        assert 'id="no-recovery-key"' in people.operator.get(page).text
    assert 'id="no-recovery-key"' not in people.admin_a.get("/").text  # nothing an association can act on
    app = api.client.app
    recipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
    app.state.settings = app.state.settings.model_copy(update={"backup_recovery_recipients": recipient})
    assert 'id="no-recovery-key"' not in people.operator.get("/operator/servers").text
