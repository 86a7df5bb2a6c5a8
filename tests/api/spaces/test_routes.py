"""Spaces through the API: the operator's choice of modes, request → approve → job, isolation between
associations, the first admin shown once, removal, and the audit log naming the space's association."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from provisioner.backups.repository import repository_for
from provisioner.config import get_settings
from provisioner.crypto import decrypt
from provisioner.db import session_factory
from provisioner.models import AuditEntry, Space, SpaceBackup
from tests.api.conftest import Api
from tests.support.factories import HOST_KEY
from tests.twins.test_jitsi_standin_tokens import JITSI_TOKEN_ENV, load_standin


def _offer_shared(api: Api, modes: list[str] | None = None) -> dict[str, Any]:
    response = api.client.put(
        "/api/v1/catalog/wordpress/modes",
        json={"modes": modes or ["dedicated", "shared"]},
        headers=api.operator,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _request(api: Api, headers: dict[str, str], name: str = "web", **extra: str) -> Any:
    return api.client.post(
        "/api/v1/spaces", json={"template": "wordpress", "name": name, **extra}, headers=headers
    )


def test_the_operator_chooses_which_modes_associations_may_request(api: Api) -> None:
    _, admin = api.tenant("verein-a")
    shown = api.client.get("/api/v1/catalog/wordpress", headers=admin).json()
    assert (shown["offered_modes"], shown["modes"]) == (["dedicated", "shared"], ["dedicated"])
    refused = _request(api, admin)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "body.template"

    assert (
        api.client.put(
            "/api/v1/catalog/wordpress/modes", json={"modes": ["shared"]}, headers=admin
        ).status_code
        == 403
    )
    unknown = api.client.put(
        "/api/v1/catalog/homepage/modes", json={"modes": ["shared"]}, headers=api.operator
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "body.modes"

    assert _offer_shared(api, ["shared"])["modes"] == ["shared"]
    assert _request(api, admin).status_code == 201
    dedicated = api.client.post(
        "/api/v1/instances", json={"template": "wordpress", "name": "blog", "parameters": {}}, headers=admin
    )
    assert dedicated.status_code == 422
    assert dedicated.json()["errors"][0]["field"] == "body.template"


def test_request_approve_place_and_a_job_for_the_space(api: Api) -> None:
    tenant_a, admin_a = api.tenant("verein-a")
    _, admin_b = api.tenant("verein-b")
    server = api.server()
    _offer_shared(api)
    space = _request(api, admin_a, subdomain="verein-a-web").json()
    assert (space["state"], space["hostname"], space["tenant"]) == (
        "requested",
        "verein-a-web.localhost",
        tenant_a,
    )
    taken = _request(api, admin_b, subdomain="verein-a-web")
    assert taken.status_code == 409
    assert taken.json()["errors"][0]["field"] == "body.subdomain"
    assert api.client.post(f"/api/v1/spaces/{space['id']}/approve", headers=admin_a).status_code == 403

    accepted = api.client.post(
        f"/api/v1/spaces/{space['id']}/approve", json={"quota": {"storage_mb": 300}}, headers=api.operator
    )
    assert accepted.status_code == 202, accepted.text
    job = accepted.json()["job"]
    assert (job["kind"], job["space"]) == ("space_create", space["id"])
    assert api.dispatcher.sent == [job["id"]]
    placed = api.client.get(f"/api/v1/spaces/{space['id']}", headers=admin_a).json()
    assert placed["state"] == "placed"
    assert placed["url"] == "https://verein-a-web.localhost/"
    assert placed["quota"] == {"members": None, "storage_mb": 300, "enforced": ["storage"]}
    # Not measured yet: the shared WordPress's reservation (1 cpu, 512 MB, 5 GB), its only space's share.
    assert placed["footprint"] == {"cpu": 1, "memory_mb": 512, "disk_gb": 5, "measured": False, "spaces": 1}

    # The shared instance is the lab's: no association sees it, the operator does.
    shared = api.client.get(f"/api/v1/instances/{job['instance']}", headers=api.operator).json()
    assert (shared["server"], shared["state"]) == (server, "approved")
    assert api.client.get(f"/api/v1/instances/{job['instance']}", headers=admin_a).status_code == 404
    assert api.client.get("/api/v1/instances", headers=admin_a).json()["items"] == []
    assert "_lab" not in [
        t["slug"] for t in api.client.get("/api/v1/tenants", headers=api.operator).json()["items"]
    ]
    # The space's association follows its job; the other association does not see it.
    assert api.client.get(f"/api/v1/jobs/{job['id']}", headers=admin_a).status_code == 200
    assert [j["id"] for j in api.client.get("/api/v1/jobs", headers=admin_a).json()["items"]] == [job["id"]]
    assert api.client.get(f"/api/v1/jobs/{job['id']}", headers=admin_b).status_code == 404
    assert api.client.get("/api/v1/jobs", headers=admin_b).json()["items"] == []
    with session_factory(api.db_url)() as session:
        approval = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "approve_space", AuditEntry.status_code == 202)
        ).one()
    assert (approval.tenant_id, approval.target_id) == (tenant_a, space["id"])


def test_a_name_mattermost_would_refuse_for_its_team_is_refused_at_the_request(api: Api) -> None:
    """A space's team is named after its subdomain, which Mattermost checks against its reserved words
    (sharing.shared.names in its template.yaml): the request answers 422 naming the field, no job fails."""
    _, admin = api.tenant("verein-a")
    _offer_shared(api)
    api.client.put(
        "/api/v1/catalog/mattermost/modes", json={"modes": ["dedicated", "shared"]}, headers=api.operator
    )
    by_name = api.client.post(
        "/api/v1/spaces", json={"template": "mattermost", "name": "postfach"}, headers=admin
    )
    assert by_name.status_code == 422
    assert by_name.headers["content-type"] == "application/problem+json"
    refusal = "mattermost refuses the name 'postfach-verein-a' for a space"
    said = f"{refusal}: choose a name not beginning with 'post'"
    assert by_name.json()["errors"] == [{"field": "body.name", "message": said}]
    by_subdomain = api.client.post(
        "/api/v1/spaces", json={"template": "mattermost", "name": "chat", "subdomain": "x"}, headers=admin
    )
    assert by_subdomain.status_code == 422
    assert by_subdomain.json()["errors"][0]["field"] == "body.subdomain"
    assert "at least 2 characters" in by_subdomain.json()["detail"]
    assert api.client.get("/api/v1/spaces", headers=admin).json()["items"] == []
    # WordPress names a site by its address alone and takes the same name; so does Mattermost another.
    assert _request(api, admin, name="postfach").status_code == 201
    fine = {"template": "mattermost", "name": "chat", "subdomain": "verein-a-posts"}
    assert api.client.post("/api/v1/spaces", json=fine, headers=admin).status_code == 201


def test_an_association_never_sees_another_associations_space(api: Api) -> None:
    _, admin_a = api.tenant("verein-a")
    tenant_b, admin_b = api.tenant("verein-b")
    _offer_shared(api)
    space = _request(api, admin_a).json()
    for method, path in (
        ("GET", f"/api/v1/spaces/{space['id']}"),
        ("DELETE", f"/api/v1/spaces/{space['id']}"),
        ("POST", f"/api/v1/spaces/{space['id']}/credentials"),
    ):
        assert api.client.request(method, path, headers=admin_b).status_code == 404
    assert api.client.get("/api/v1/spaces", headers=admin_b).json()["items"] == []
    assert [s["id"] for s in api.client.get("/api/v1/spaces", headers=api.operator).json()["items"]] == [
        space["id"]
    ]
    for_b = api.client.post(
        "/api/v1/spaces", json={"template": "wordpress", "name": "web", "tenant": tenant_b}, headers=admin_a
    )
    assert for_b.status_code == 422
    assert for_b.json()["errors"][0]["field"] == "body.tenant"


def test_the_first_admin_is_shown_once_after_approval(api: Api) -> None:
    _, admin = api.tenant("verein-a")
    api.server()
    _offer_shared(api)
    space = _request(api, admin).json()
    assert api.client.post(f"/api/v1/spaces/{space['id']}/credentials", headers=admin).status_code == 409
    api.client.post(f"/api/v1/spaces/{space['id']}/approve", headers=api.operator)

    shown = api.client.post(f"/api/v1/spaces/{space['id']}/credentials", headers=admin)
    assert shown.status_code == 200
    assert shown.headers["cache-control"] == "no-store"
    assert shown.json()["user"] == "admin-web-verein-a"
    assert len(shown.json()["password"]) == 24
    assert api.client.post(f"/api/v1/spaces/{space['id']}/credentials", headers=admin).status_code == 410


def test_removal_is_a_job_and_a_request_not_yet_approved_is_withdrawn_at_once(api: Api) -> None:
    _, admin = api.tenant("verein-a")
    api.server()
    _offer_shared(api)
    waiting = _request(api, admin, name="draft").json()
    withdrawn = api.client.delete(f"/api/v1/spaces/{waiting['id']}", headers=admin)
    assert withdrawn.status_code == 202
    assert (withdrawn.json()["job"], withdrawn.json()["space"]["state"]) == (None, "removed")

    space = _request(api, admin).json()
    api.client.post(f"/api/v1/spaces/{space['id']}/approve", headers=api.operator)
    removal = api.client.delete(f"/api/v1/spaces/{space['id']}", headers=admin)
    assert removal.status_code == 202
    assert removal.json()["job"]["kind"] == "space_remove"
    assert api.client.delete(f"/api/v1/spaces/{space['id']}", headers=admin).status_code == 409


def test_rejection_keeps_the_reason_and_frees_the_address(api: Api) -> None:
    _, admin = api.tenant("verein-a")
    _offer_shared(api)
    space = _request(api, admin).json()
    rejected = api.client.post(
        f"/api/v1/spaces/{space['id']}/reject",
        json={"reason": "ask for a dedicated one"},
        headers=api.operator,
    )
    assert (rejected.json()["state"], rejected.json()["state_reason"]) == (
        "rejected",
        "ask for a dedicated one",
    )
    assert _request(api, admin).status_code == 201


def _running_space(api: Api, headers: dict[str, str]) -> dict[str, Any]:
    """A space approved, and (as its job would leave it) running in its shared instance."""
    space = _request(api, headers).json()
    approved = api.client.post(f"/api/v1/spaces/{space['id']}/approve", headers=api.operator)
    assert approved.status_code == 202, approved.text
    with session_factory(api.db_url)() as session:
        row = session.get_one(Space, space["id"])
        row.state = "running"
        assert row.instance is not None
        row.instance.state = "running"
        session.commit()
    return space


def _backup_target(api: Api) -> None:
    sftp = {"name": "lab", "kind": "sftp", "path": "/srv", "address": "192.0.2.20", "user": "restic"}
    added = api.client.post(
        "/api/v1/backup-targets", json=sftp | {"host_key": HOST_KEY}, headers=api.operator
    )
    assert added.status_code == 201, added.text


def _succeeded_backup(api: Api, space_id: str) -> str:
    with session_factory(api.db_url)() as session:
        space = session.get_one(Space, space_id)
        repository = repository_for(session, get_settings(), tenant_id=space.tenant_id)
        backup = SpaceBackup(
            space_id=space_id, repository_id=repository.id, status="succeeded", snapshot_id="cd" * 32
        )
        session.add(backup)
        session.commit()
        return backup.id


def test_a_spaces_backups_and_restores_belong_to_its_association_alone(api: Api) -> None:
    _, admin_a = api.tenant("verein-a")
    _, admin_b = api.tenant("verein-b")
    api.server()
    _offer_shared(api)
    space = _running_space(api, admin_a)
    path = f"/api/v1/spaces/{space['id']}"
    assert api.client.get(path, headers=admin_a).json()["separable_data"] is True
    assert api.client.post(f"{path}/backups", headers=admin_a).status_code == 409  # no backup target yet
    _backup_target(api)

    accepted = api.client.post(f"{path}/backups", headers=admin_a)
    assert accepted.status_code == 202, accepted.text
    assert (accepted.json()["job"]["kind"], accepted.json()["job"]["space"]) == ("space_backup", space["id"])
    assert api.client.get(f"{path}/backups", headers=admin_a).json() == {"items": []}  # not run yet
    for method, suffix in (("POST", "/backups"), ("GET", "/backups"), ("POST", "/restores")):
        assert (
            api.client.request(method, f"{path}{suffix}", headers=admin_b, json={"backup": "x"}).status_code
            == 404
        )

    missing = api.client.post(f"{path}/restores", json={}, headers=admin_a)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "body.backup"
    unknown = api.client.post(f"{path}/restores", json={"backup": "sbk_unknown"}, headers=admin_a)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "body.backup"
    backup_id = _succeeded_backup(api, space["id"])
    assert [b["id"] for b in api.client.get(f"{path}/backups", headers=admin_a).json()["items"]] == [
        backup_id
    ]
    restore = api.client.post(f"{path}/restores", json={"backup": backup_id}, headers=admin_a)
    assert restore.status_code == 202, restore.text
    assert restore.json()["job"]["kind"] == "space_restore"
    # Another association's space cannot be given this space's backup.
    other = _running_space(api, admin_b)
    foreign = api.client.post(
        f"/api/v1/spaces/{other['id']}/restores", json={"backup": backup_id}, headers=admin_b
    )
    assert foreign.status_code == 422


def test_moving_a_space_out_is_for_operators_and_makes_the_associations_own_instance(api: Api) -> None:
    tenant_a, admin_a = api.tenant("verein-a")
    api.server()
    _offer_shared(api)
    space = _running_space(api, admin_a)
    path = f"/api/v1/spaces/{space['id']}/move-to-dedicated"
    _backup_target(api)
    assert api.client.post(path, headers=admin_a).status_code == 403

    moved = api.client.post(path, headers=api.operator)
    assert moved.status_code == 202, moved.text
    instance, job = moved.json()["instance"], moved.json()["job"]
    assert (instance["tenant"], instance["state"], instance["hostname"]) == (
        tenant_a,
        "approved",
        f"{space['subdomain']}-site.localhost",
    )
    assert (job["kind"], job["space"]) == ("space_move_out", space["id"])
    assert api.client.get(f"/api/v1/instances/{instance['id']}", headers=admin_a).status_code == 200
    again = api.client.post(path, headers=api.operator)
    assert again.status_code == 409
    assert api.client.post(f"/api/v1/spaces/{space['id']}/backups", headers=admin_a).status_code == 409


def test_an_operator_changes_a_running_spaces_limits_through_a_job(api: Api) -> None:
    tenant_a, admin_a = api.tenant("verein-a")
    _, admin_b = api.tenant("verein-b")
    api.server()
    _offer_shared(api)
    requested = _request(api, admin_b, name="later").json()
    space = _running_space(api, admin_a)
    path = f"/api/v1/spaces/{space['id']}"
    storage = {"quota": {"storage_mb": 500}}
    assert api.client.patch(path, json=storage, headers=admin_a).status_code == 403
    assert api.client.patch(path, json=storage, headers=admin_b).status_code == 403
    refused = {
        # WordPress limits a site's upload space, not its members.
        "body.quota.members": {"quota": {"members": 10}},
        "body.quota.storage_mb": {"quota": {"storage_mb": 0}},
        "body.quota": {"quota": {}},
    }
    for field, body in refused.items():
        answer = api.client.patch(path, json=body, headers=api.operator)
        assert answer.status_code == 422, (field, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["errors"][0]["field"] == field
    not_running = api.client.patch(f"/api/v1/spaces/{requested['id']}", json=storage, headers=api.operator)
    assert not_running.status_code == 409

    accepted = api.client.patch(path, json=storage, headers=api.operator)
    assert accepted.status_code == 202, accepted.text
    job = accepted.json()["job"]
    assert (job["kind"], job["space"]) == ("space_quota", space["id"])
    # The space's quota says what the service enforces: the new limit once the job applied it.
    assert accepted.json()["space"]["quota"]["storage_mb"] is None
    assert api.client.patch(path, json=storage, headers=api.operator).status_code == 409  # one at a time
    with session_factory(api.db_url)() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "patch_space")).all()
        done = [(e.tenant_id, e.target_id) for e in entries if e.outcome == "success"]
        assert done == [(tenant_a, space["id"])]  # on the association's own audit log


def test_a_shared_jitsi_spaces_admin_gets_signed_moderator_links_for_that_space_alone(
    api: Api, monkeypatch: Any
) -> None:
    """The link's token is checked here by the Jitsi stand-in's own rules (upstream's token auth with
    domain verification): it opens the space's rooms, not another space's."""
    _, admin_a = api.tenant("verein-a")
    _, admin_b = api.tenant("verein-b")
    api.server()
    api.client.put("/api/v1/catalog/jitsi/modes", json={"modes": ["shared"]}, headers=api.operator)
    spaces = {}
    for slug, headers in (("verein-a", admin_a), ("verein-b", admin_b)):
        space = api.client.post("/api/v1/spaces", json={"template": "jitsi", "name": "meet"}, headers=headers)
        assert (
            api.client.post(f"/api/v1/spaces/{space.json()['id']}/approve", headers=api.operator).status_code
            == 202
        )
        spaces[slug] = space.json()["id"]
    early = api.client.post(f"/api/v1/spaces/{spaces['verein-a']}/moderator-links", json={}, headers=admin_a)
    assert early.status_code == 409  # not running yet
    with session_factory(api.db_url)() as session:
        for space_id in spaces.values():
            row = session.get_one(Space, space_id)
            row.state = "running"
            assert row.instance is not None
            row.instance.state = "running"
        secret = next(s for s in row.instance.secrets if s.name == "jwt_app_secret")
        signing_secret = decrypt(get_settings(), secret.encrypted)
        session.commit()

    path = f"/api/v1/spaces/{spaces['verein-a']}/moderator-links"
    assert api.client.post(path, json={}, headers=admin_b).status_code == 404
    assert (
        api.client.post(path, json={"days": 31}, headers=admin_a).json()["errors"][0]["field"] == "body.days"
    )
    made = api.client.post(path, json={"room": "vorstand", "days": 2}, headers=admin_a)
    assert made.status_code == 200, made.text
    assert made.headers["cache-control"] == "no-store"
    url = made.json()["url"]
    tenant = spaces["verein-a"].replace("_", "")
    assert url.startswith(f"https://meet-verein-a.localhost/{tenant}/vorstand?jwt=")
    # Signed links take the place of a first admin's password, which would open nothing.
    assert (
        api.client.post(f"/api/v1/spaces/{spaces['verein-a']}/credentials", headers=admin_a).status_code
        == 409
    )

    for name, value in {**JITSI_TOKEN_ENV, "JWT_APP_SECRET": signing_secret}.items():
        monkeypatch.setenv(name, value)
    rules = load_standin().TokenRules()
    claims = rules.claims(url.split("jwt=", 1)[1])
    assert claims is not None
    assert rules.room_allowed(claims, f"[{tenant}]vorstand@muc.meet.jitsi")
    assert not rules.room_allowed(claims, f"[{tenant}]kasse@muc.meet.jitsi")
    other = spaces["verein-b"].replace("_", "")
    assert not rules.room_allowed(claims, f"[{other}]vorstand@muc.meet.jitsi")
    entries = api.client.get("/api/v1/audit", headers=api.operator).json()["items"]
    assert "jwt=" not in json.dumps(entries)  # the link is kept nowhere
