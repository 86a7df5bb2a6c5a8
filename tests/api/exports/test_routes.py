"""The export endpoints: asked for by an association's admin, read back with state, size, checksum,
expiry and link, the archive downloaded by its admins and operators only, and answers in
problem+json for a service that does not run, a member, a second export at once, an expired link and an
association being offboarded; and an export of one space, refused for a space its service cannot take
apart."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta
from pathlib import Path

from provisioner.auth.actor import Role
from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.exports.sealed import SealedWriter
from provisioner.instances.service import set_state
from provisioner.instances.states import InstanceState
from provisioner.models import Export, Instance, Space
from provisioner.timeutil import utcnow
from tests.api.conftest import Api
from tests.support.factories import HOST_KEY
from tests.support.spaces import inseparable_space

PROBLEM = "application/problem+json"


def _running(api: Api, instance_id: str) -> None:
    with session_factory(api.db_url)() as session:
        instance = session.get_one(Instance, instance_id)
        set_state(instance, InstanceState.APPROVED)
        set_state(instance, InstanceState.PROVISIONING)
        set_state(instance, InstanceState.RUNNING)
        session.commit()


def test_an_admin_asks_for_an_export_and_reads_it_back(api: Api) -> None:
    api.server()
    tenant_id, admin = api.tenant("verein-a")
    site = api.homepage(admin)
    refused = api.client.post(f"/api/v1/instances/{site}/exports", headers=admin)
    assert (refused.status_code, refused.headers["content-type"]) == (409, PROBLEM)
    assert refused.json()["detail"] == "the service is requested; only a running service can be exported"

    _running(api, site)
    member = api.token(role=Role.MEMBER, tenant_id=tenant_id)
    forbidden = api.client.post(f"/api/v1/instances/{site}/exports", headers=member)
    assert (forbidden.status_code, forbidden.headers["content-type"]) == (403, PROBLEM)

    accepted = api.client.post(f"/api/v1/instances/{site}/exports", headers=admin)
    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    assert body["job"]["kind"] == "export"
    assert api.dispatcher.sent == [body["job"]["id"]]
    export = api.client.get(f"/api/v1/exports/{body['export']['id']}", headers=member).json()
    assert (export["state"], export["download"], export["instance"]) == ("queued", None, site)
    again = api.client.post(f"/api/v1/instances/{site}/exports", headers=admin)
    assert again.status_code == 409
    listed = api.client.get(f"/api/v1/instances/{site}/exports", headers=admin).json()["items"]
    assert [e["id"] for e in listed] == [export["id"]]


def _ready_archive(api: Api, export_id: str, plain: bytes, *, expires_in: timedelta) -> None:
    settings: Settings = api.client.app.state.settings  # type: ignore[attr-defined]
    settings.resolved_exports_dir.mkdir(parents=True, exist_ok=True)
    name = f"{export_id}.tar.gz.sealed"
    with (settings.resolved_exports_dir / name).open("wb") as out:
        sealer = SealedWriter(out, settings.secret_key)
        sealer.write(plain)
        sealer.close()
    with session_factory(api.db_url)() as session:
        export = session.get_one(Export, export_id)
        export.state, export.file, export.size_bytes = "ready", name, len(plain)
        export.sha256, export.finished_at = hashlib.sha256(plain).hexdigest(), utcnow()
        export.expires_at = utcnow() + expires_in
        session.commit()


def test_its_admins_and_operators_download_it_until_it_expires(api: Api, tmp_path: Path) -> None:
    api.server()
    tenant_id, admin = api.tenant("verein-a")
    site = api.homepage(admin)
    _running(api, site)
    export_id = api.client.post(f"/api/v1/instances/{site}/exports", headers=admin).json()["export"]["id"]
    plain = os.urandom(300_000)
    _ready_archive(api, export_id, plain, expires_in=timedelta(hours=1))

    shown = api.client.get(f"/api/v1/exports/{export_id}", headers=admin).json()
    assert shown["download"] == f"/api/v1/exports/{export_id}/archive"
    assert (shown["size_bytes"], shown["sha256"]) == (len(plain), hashlib.sha256(plain).hexdigest())
    for headers in (admin, api.operator):
        got = api.client.get(shown["download"], headers=headers)
        assert got.status_code == 200
        assert got.content == plain
        assert got.headers["content-type"] == "application/gzip"
        assert got.headers["content-disposition"].startswith('attachment; filename="verein-a-site-')
    member = api.token(role=Role.MEMBER, tenant_id=tenant_id)
    assert api.client.get(shown["download"], headers=member).status_code == 403
    _, other = api.tenant("verein-b")
    for path in (shown["download"], f"/api/v1/exports/{export_id}"):
        assert api.client.get(path, headers=other).status_code == 404

    _ready_archive(api, export_id, plain, expires_in=timedelta(seconds=-1))
    gone = api.client.get(shown["download"], headers=admin)
    assert (gone.status_code, gone.headers["content-type"]) == (410, PROBLEM)
    assert "expired" in gone.json()["detail"]


def test_an_admin_asks_for_an_export_of_the_whole_association(api: Api) -> None:
    tenant_id, admin = api.tenant("verein-a")
    _, other = api.tenant("verein-b")
    member = api.token(role=Role.MEMBER, tenant_id=tenant_id)
    forbidden = api.client.post(f"/api/v1/tenants/{tenant_id}/exports", headers=member)
    assert (forbidden.status_code, forbidden.headers["content-type"]) == (403, PROBLEM)
    hidden = api.client.post(f"/api/v1/tenants/{tenant_id}/exports", headers=other)
    assert (hidden.status_code, hidden.headers["content-type"]) == (404, PROBLEM)

    accepted = api.client.post(f"/api/v1/tenants/{tenant_id}/exports", headers=admin)
    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    assert (body["job"]["kind"], body["job"]["instance"]) == ("association_export", None)
    assert api.dispatcher.sent == [body["job"]["id"]]
    export = api.client.get(f"/api/v1/exports/{body['export']['id']}", headers=member).json()
    assert (export["scope"], export["instance"], export["tenant"]) == ("association", None, tenant_id)
    assert api.client.get(f"/api/v1/exports/{export['id']}", headers=other).status_code == 404
    assert api.client.get(f"/api/v1/jobs/{body['job']['id']}", headers=member).status_code == 200
    assert api.client.get(f"/api/v1/jobs/{body['job']['id']}", headers=other).status_code == 404
    again = api.client.post(f"/api/v1/tenants/{tenant_id}/exports", headers=api.operator)
    assert (again.status_code, again.json()["detail"]) == (
        409,
        "an export of the whole association is being made already; wait for it",
    )
    listed = api.client.get(f"/api/v1/tenants/{tenant_id}/exports", headers=admin).json()["items"]
    assert [e["id"] for e in listed] == [export["id"]]
    assert api.client.get(f"/api/v1/tenants/{tenant_id}/exports", headers=other).status_code == 404


def test_no_export_while_the_association_is_offboarded_and_none_is_written(api: Api) -> None:
    """Its admin asked to leave: during the lab's waiting period neither a service's export nor the whole
    association's is accepted, with the reason and the moment its data goes."""
    tenant_id, admin = api.tenant("verein-a")
    api.server()
    site = api.homepage(admin)
    _running(api, site)
    leaving = api.client.post(
        f"/api/v1/tenants/{tenant_id}/offboarding", json={"confirm": "verein-a"}, headers=admin
    )
    assert leaving.status_code == 202, leaving.text
    for path in (f"/api/v1/instances/{site}/exports", f"/api/v1/tenants/{tenant_id}/exports"):
        refused = api.client.post(path, headers=admin)
        assert (refused.status_code, refused.headers["content-type"]) == (409, PROBLEM), path
        assert refused.json()["detail"].startswith(
            "an export is not possible: the association verein-a is being offboarded (its data is deleted "
            "from "
        )
    assert api.client.get(f"/api/v1/tenants/{tenant_id}/exports", headers=admin).json()["items"] == []
    assert api.client.get(f"/api/v1/instances/{site}/exports", headers=admin).json()["items"] == []
    assert api.dispatcher.sent == []


def _running_space(api: Api, headers: dict[str, str]) -> str:
    """A WordPress space approved and (as its job would leave it) running in the lab's shared instance."""
    modes = {"modes": ["dedicated", "shared"]}
    assert (
        api.client.put("/api/v1/catalog/wordpress/modes", json=modes, headers=api.operator).status_code == 200
    )
    space = api.client.post("/api/v1/spaces", json={"template": "wordpress", "name": "web"}, headers=headers)
    assert space.status_code == 201, space.text
    space_id: str = space.json()["id"]
    assert api.client.post(f"/api/v1/spaces/{space_id}/approve", headers=api.operator).status_code == 202
    with session_factory(api.db_url)() as session:
        row = session.get_one(Space, space_id)
        row.state = "running"
        assert row.instance is not None
        row.instance.state = "running"
        session.commit()
    return space_id


def test_an_admin_asks_for_an_export_of_one_space(api: Api) -> None:
    api.server()
    tenant_id, admin = api.tenant("verein-a")
    _, other = api.tenant("verein-b")
    space_id = _running_space(api, admin)
    sftp = {"name": "lab", "kind": "sftp", "path": "/srv", "address": "192.0.2.20", "user": "restic"}
    added = api.client.post(
        "/api/v1/backup-targets", json=sftp | {"host_key": HOST_KEY}, headers=api.operator
    )
    assert added.status_code == 201, added.text
    member = api.token(role=Role.MEMBER, tenant_id=tenant_id)
    path = f"/api/v1/spaces/{space_id}/exports"
    forbidden = api.client.post(path, headers=member)
    assert (forbidden.status_code, forbidden.headers["content-type"]) == (403, PROBLEM)
    hidden = api.client.post(path, headers=other)
    assert (hidden.status_code, hidden.headers["content-type"]) == (404, PROBLEM)

    accepted = api.client.post(path, headers=admin)
    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    assert (body["job"]["kind"], body["job"]["space"]) == ("space_export", space_id)
    assert api.dispatcher.sent[-1] == body["job"]["id"]
    export = api.client.get(f"/api/v1/exports/{body['export']['id']}", headers=member).json()
    assert (export["scope"], export["space"], export["instance"], export["state"]) == (
        "space",
        space_id,
        None,
        "queued",
    )
    assert api.client.get(f"/api/v1/exports/{export['id']}", headers=other).status_code == 404
    again = api.client.post(path, headers=api.operator)
    assert (again.status_code, again.json()["detail"]) == (
        409,
        "an export of this space is being made already; wait for it",
    )
    assert [e["id"] for e in api.client.get(path, headers=admin).json()["items"]] == [export["id"]]
    assert api.client.get(path, headers=other).status_code == 404

    # A space of a service that keeps every space's data together is refused, naming why.
    with session_factory(api.db_url)() as session:
        web = session.get_one(Space, space_id)
        cloud = inseparable_space(session, tenant_id=tenant_id, instance_id=web.instance_id)
        session.commit()
        cloud_id = cloud.id
    refused = api.client.post(f"/api/v1/spaces/{cloud_id}/exports", headers=admin)
    assert (refused.status_code, refused.headers["content-type"]) == (409, PROBLEM)
    assert refused.json()["detail"] == (
        "the nextcloud service cannot take one space's data apart from the others'; "
        "a space of it cannot be exported alone"
    )
