"""Backup targets through the API: each target's view says what a server that backs up can reach."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from provisioner.backups.repository import repository_for
from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.models import BackupTarget
from tests.api.conftest import Api
from tests.support.factories import HOST_KEY
from tests.support.stack import free_port


def test_a_targets_view_says_whether_servers_are_confined_and_never_shows_a_credential(
    api: Api, tmp_path: Path
) -> None:
    rest = {
        "name": "rest", "kind": "rest", "path": "/srv/restic", "rest_url": "http://10.0.0.2:8000",
        "rest_admin_url": "http://127.0.0.1:8001", "htpasswd_file": str(tmp_path / "htpasswd"),
        "rest_admin_user": "lab", "rest_admin_password": "the-full-access-password", "default": True,
    }  # fmt: skip
    added = api.client.post("/api/v1/backup-targets", json=rest, headers=api.operator)
    assert added.status_code == 201, added.text
    assert added.json()["rest_url"] == "http://10.0.0.2:8000"
    assert added.json()["isolation"].startswith("one append-only credential per association")
    sftp = {"name": "old", "kind": "sftp", "path": "/srv", "address": "192.0.2.20", "user": "restic"}
    old = api.client.post("/api/v1/backup-targets", json=sftp | {"host_key": HOST_KEY}, headers=api.operator)
    assert old.status_code == 201, old.text
    listed = api.client.get("/api/v1/backup-targets", headers=api.operator)
    assert "the-full-access-password" not in listed.text
    isolation = {row["name"]: row["isolation"] for row in listed.json()}
    assert "can list and delete every association's backups" in isolation["old"]

    missing = api.client.post(
        "/api/v1/backup-targets", json=rest | {"name": "x", "rest_url": None}, headers=api.operator
    )
    assert missing.status_code == 422
    assert [e["field"] for e in missing.json()["errors"]] == ["body.rest_url"]


def test_testing_a_targets_connection_says_what_was_found_and_is_for_operators(api: Api) -> None:
    port = free_port()  # nothing listens there
    sftp = {
        "name": "b",
        "kind": "sftp",
        "path": "/srv",
        "address": "127.0.0.1",
        "port": port,
        "user": "restic",
    }
    added = api.client.post(
        "/api/v1/backup-targets", json=sftp | {"host_key": HOST_KEY}, headers=api.operator
    )
    target_id = added.json()["id"]
    checked = api.client.post(f"/api/v1/backup-targets/{target_id}/check", headers=api.operator)
    assert checked.status_code == 200, checked.text
    assert checked.json() == {
        "reached": False,
        "finding": "unreachable",
        "detail": "nothing answers at its address from the control plane's machine",
    }
    _tenant, admin = api.tenant("verein-a")
    assert api.client.post(f"/api/v1/backup-targets/{target_id}/check", headers=admin).status_code == 403
    assert api.client.post("/api/v1/backup-targets/bkt_none/check", headers=api.operator).status_code == 404


def _target(api: Api, name: str, **extra: object) -> str:
    body = {"name": name, "kind": "sftp", "path": "/srv", "address": "192.0.2.20", "user": "restic"}
    added = api.client.post(
        "/api/v1/backup-targets", json=body | {"host_key": HOST_KEY, **extra}, headers=api.operator
    )
    assert added.status_code == 201, added.text
    target_id: str = added.json()["id"]
    return target_id


def test_a_target_is_removed_only_while_it_holds_no_repository(api: Api, tmp_path: Path) -> None:
    holding, spare = _target(api, "holding"), _target(api, "spare")
    tenant_id, admin = api.tenant("verein-a")
    settings = Settings(data_dir=tmp_path, database_url=api.db_url)
    with session_factory(api.db_url)() as session:
        repository_for(session, settings, tenant_id=tenant_id)  # on the default target, the first one
        session.commit()
    assert api.client.delete(f"/api/v1/backup-targets/{spare}", headers=admin).status_code == 403
    assert api.client.delete("/api/v1/backup-targets/bkt_nope", headers=api.operator).status_code == 404

    refused = api.client.delete(f"/api/v1/backup-targets/{holding}", headers=api.operator)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["detail"] == (
        "backup target holding still holds the repositories of 1 association(s); their backups live there"
    )
    assert api.client.delete(f"/api/v1/backup-targets/{spare}", headers=api.operator).status_code == 204
    # The default going, the oldest remaining target takes its place; its credentials go with its row.
    newest = _target(api, "newest", default=True)
    assert api.client.delete(f"/api/v1/backup-targets/{newest}", headers=api.operator).status_code == 204
    listed = api.client.get("/api/v1/backup-targets", headers=api.operator).json()
    assert [(t["name"], t["default"]) for t in listed] == [("holding", True)]
    with session_factory(api.db_url)() as session:
        assert session.scalars(select(BackupTarget.id)).all() == [holding]
