"""Backup targets in the portal: an SFTP server's host key confirmed first, its key to install shown."""

from __future__ import annotations

from sqlalchemy import select

from provisioner.backups.repository import repository_for
from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.models import BackupTarget
from provisioner.servers.hostkeys import fingerprint
from tests.support.factories import HOST_KEY, sftp_target
from tests.support.portal import People, csrf_of, field_state
from tests.support.stack import free_port

SFTP = {
    "name": "backup-1",
    "kind": "sftp",
    "path": "/srv/backups",
    "address": "192.0.2.30",
    "port": "22",
    "user": "backup",
}


def test_an_sftp_target_is_added_with_the_confirmed_host_key_and_shows_its_key(
    people: People, api, keyscan
) -> None:  # type: ignore[no-untyped-def]
    token = csrf_of(people.operator.get("/operator/backup-targets/new").text)
    shown = people.operator.post("/operator/backup-targets/new", data={"csrf_token": token, **SFTP})
    assert fingerprint(HOST_KEY) in shown.text
    with session_factory(api.db_url)() as session:
        assert session.scalar(select(BackupTarget.id)) is None, "nothing stored before the confirmation"
    added = people.operator.post(
        "/operator/backup-targets/new", data={"csrf_token": token, **SFTP, "host_key": HOST_KEY}
    )
    assert added.status_code == 200
    assert "The backup target was added." in added.text
    with session_factory(api.db_url)() as session:
        target = session.scalars(select(BackupTarget)).one()
        assert (target.host_key, target.user, target.is_default) == (HOST_KEY, "backup", True)
        assert target.public_key
        assert target.public_key in added.text, "the key to install on the backup server"
    assert keyscan == [("192.0.2.30", 22)]
    twice = people.operator.post(
        "/operator/backup-targets/new", data={"csrf_token": token, **SFTP, "host_key": HOST_KEY}
    )
    assert twice.status_code == 409
    assert field_state(twice.text, "field-name") == "invalid"


def test_the_fields_the_service_refuses_are_marked(people: People, api, keyscan) -> None:  # type: ignore[no-untyped-def]
    token = csrf_of(people.operator.get("/operator/backup-targets/new").text)
    wrong = people.operator.post(
        "/operator/backup-targets/new", data={"csrf_token": token, **SFTP, "name": "Backup 1", "port": "0"}
    )
    assert wrong.status_code == 422
    assert field_state(wrong.text, "field-name") == "invalid"
    assert field_state(wrong.text, "field-port") == "invalid"
    s3 = {
        "name": "s3-1",
        "kind": "s3",
        "path": "bucket",
        "s3_endpoint": "https://s3.example.org/bucket",
        "s3_access_key_id": "id",
        "s3_secret_access_key": "geheim-123",
    }
    refused = people.operator.post("/operator/backup-targets/new", data={"csrf_token": token, **s3})
    assert refused.status_code == 422
    assert field_state(refused.text, "field-s3_endpoint") == "invalid"
    assert "geheim-123" not in refused.text, "a secret is never sent back"
    assert keyscan == []
    assert people.operator.post("/operator/backup-targets/new", data=SFTP).status_code == 403, "no CSRF token"
    assert people.admin_a.get("/operator/backup-targets").status_code == 403


def test_testing_the_connection_shows_the_finding_on_the_targets_card(people: People, api, keyscan) -> None:  # type: ignore[no-untyped-def]
    token = csrf_of(people.operator.get("/operator/backup-targets/new").text)
    nobody = {**SFTP, "address": "127.0.0.1", "port": str(free_port()), "host_key": HOST_KEY}
    people.operator.post("/operator/backup-targets/new", data={"csrf_token": token, **nobody})
    with session_factory(api.db_url)() as session:
        target_id = session.scalars(select(BackupTarget.id)).one()
    page = people.operator.get("/operator/backup-targets").text
    assert f'action="/operator/backup-targets/{target_id}/check"' in page
    checked = people.operator.post(
        f"/operator/backup-targets/{target_id}/check",
        data={"csrf_token": token},
        headers={"Accept-Language": "en"},
    )
    assert checked.status_code == 200
    assert f'id="check-{target_id}" role="alert"' in checked.text
    assert "Nothing answers at this address from the lab" in checked.text
    assert (
        people.admin_a.post(
            f"/operator/backup-targets/{target_id}/check", data={"csrf_token": token}
        ).status_code
        == 403
    )


def test_a_target_is_removed_with_the_apis_service_and_kept_while_backups_live_there(
    people: People, api
) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=api.client.app.state.settings.data_dir, database_url=api.db_url)
    with session_factory(api.db_url)() as session:
        for name in ("holding", "spare"):
            sftp_target(session, settings, name)
        repository_for(session, settings, tenant_id=people.tenant_a)  # on "holding", the default
        session.commit()
        ids = {t.name: t.id for t in session.scalars(select(BackupTarget))}
    page = people.operator.get("/operator/backup-targets").text
    assert f'href="/operator/backup-targets/{ids["spare"]}/remove"' in page
    token = csrf_of(page)
    assert (
        "Remove backup target holding"
        in people.operator.get(f"/operator/backup-targets/{ids['holding']}/remove").text
    )
    refused = people.operator.post(
        f"/operator/backup-targets/{ids['holding']}/remove", data={"csrf_token": token}
    )
    assert refused.status_code == 409
    assert "backups live there" in refused.text
    removed = people.operator.post(
        f"/operator/backup-targets/{ids['spare']}/remove", data={"csrf_token": token}
    )
    assert "The backup target was removed." in removed.text
    with session_factory(api.db_url)() as session:
        assert session.scalars(select(BackupTarget.name)).all() == ["holding"]
    assert people.admin_a.get(f"/operator/backup-targets/{ids['holding']}/remove").status_code == 403
