"""Servers through the API: domain and TLS at creation, changes, draining, and capacity on placement."""

from __future__ import annotations

from sqlalchemy import update

from provisioner.db import session_factory
from provisioner.models import Instance, ServerCa
from tests.api.conftest import Api
from tests.support.factories import HOST_KEY


def _add(api: Api, name: str, *, memory_mb: int = 4096, **extra: object) -> dict[str, object]:
    body = {
        "name": name,
        "address": "192.0.2.10",
        "capacity": {"cpu": 4, "memory_mb": memory_mb, "disk_gb": 40},
        "host_key": HOST_KEY,
        **extra,
    }
    response = api.client.post("/api/v1/servers", json=body, headers=api.operator)
    assert response.status_code == 201, response.text
    added: dict[str, object] = response.json()
    return added


def _approve(api: Api, instance_id: str, server: str | None = None) -> int:
    body = {"server": server} if server else {}
    response = api.client.post(f"/api/v1/instances/{instance_id}/approve", json=body, headers=api.operator)
    return response.status_code


def test_a_server_gets_its_own_domain_and_tls_mode_at_creation(api: Api) -> None:
    added = _add(api, "edge", base_domain="verein.example", tls_mode="acme")
    assert (added["base_domain"], added["tls_mode"], added["draining"]) == ("verein.example", "acme", False)
    _, admin = api.tenant("verein-a")
    instance_id = api.homepage(admin)
    assert _approve(api, instance_id) == 202
    instance = api.client.get(f"/api/v1/instances/{instance_id}", headers=admin).json()
    assert instance["url"] == "https://site-verein-a.verein.example/"

    refused = api.client.post(
        "/api/v1/servers",
        json={"name": "x", "address": "192.0.2.11", "capacity": {"cpu": 1, "memory_mb": 1, "disk_gb": 1},
              "host_key": HOST_KEY, "tls_mode": "sometimes"},
        headers=api.operator,
    )  # fmt: skip
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "body.tls_mode"


def test_patch_changes_capacity_domain_tls_and_draining(api: Api) -> None:
    server_id = str(_add(api, "s1")["id"])
    changed = api.client.patch(
        f"/api/v1/servers/{server_id}",
        json={"capacity": {"cpu": 8, "memory_mb": 8192, "disk_gb": 80}, "base_domain": "lab.example",
              "tls_mode": "internal", "draining": True},
        headers=api.operator,
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["capacity"] == {"cpu": 8, "memory_mb": 8192, "disk_gb": 80}
    assert (body["base_domain"], body["tls_mode"], body["draining"]) == ("lab.example", "internal", True)
    # Only the fields sent change.
    again = api.client.patch(f"/api/v1/servers/{server_id}", json={"draining": False}, headers=api.operator)
    assert (again.json()["draining"], again.json()["base_domain"]) == (False, "lab.example")

    _, admin = api.tenant("verein-a")
    tenant_patch = api.client.patch(f"/api/v1/servers/{server_id}", json={"draining": True}, headers=admin)
    assert tenant_patch.status_code == 403
    missing = api.client.patch("/api/v1/servers/srv_nope", json={"draining": True}, headers=api.operator)
    assert missing.status_code == 404
    unknown = api.client.patch(f"/api/v1/servers/{server_id}", json={"colour": "red"}, headers=api.operator)
    assert unknown.status_code == 422


def test_capacity_cannot_drop_below_what_instances_use(api: Api) -> None:
    server_id = str(_add(api, "s1")["id"])
    _, admin = api.tenant("verein-a")
    assert _approve(api, api.homepage(admin)) == 202
    used = api.client.get(f"/api/v1/servers/{server_id}", headers=api.operator).json()["used"]
    assert used["memory_mb"] > 0
    refused = api.client.patch(
        f"/api/v1/servers/{server_id}",
        json={"capacity": {"cpu": 4, "memory_mb": used["memory_mb"] - 1, "disk_gb": 40}},
        headers=api.operator,
    )
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["field"] == "body.capacity"


def test_placement_picks_most_room_skips_draining_and_refuses_when_nothing_fits(api: Api) -> None:
    small = str(_add(api, "small", memory_mb=256)["id"])
    big = str(_add(api, "big", memory_mb=1024)["id"])
    _, admin = api.tenant("verein-a")

    first = api.homepage(admin, "one")
    assert _approve(api, first) == 202
    assert api.client.get(f"/api/v1/instances/{first}", headers=admin).json()["server"] == big
    server = api.client.get(f"/api/v1/servers/{big}", headers=api.operator).json()
    assert server["used"]["memory_mb"] + server["free"]["memory_mb"] == 1024

    api.client.patch(f"/api/v1/servers/{big}", json={"draining": True}, headers=api.operator)
    second = api.homepage(admin, "two")
    assert _approve(api, second) == 202
    assert api.client.get(f"/api/v1/instances/{second}", headers=admin).json()["server"] == small

    named = api.homepage(admin, "named")
    refused = api.client.post(
        f"/api/v1/instances/{named}/approve", json={"server": big}, headers=api.operator
    )
    assert refused.status_code == 409
    assert "being drained" in refused.json()["detail"]
    assert refused.json()["errors"][0]["field"] == "body.server"

    # Fill the small server; with the big one draining nothing fits any more.
    while _approve(api, api.homepage(admin, f"fill{len(api.dispatcher.sent)}")) == 202:
        pass
    full = api.client.post(f"/api/v1/instances/{named}/approve", json={}, headers=api.operator)
    assert full.status_code == 409
    assert "no server has enough free capacity" in full.json()["detail"]


def test_drain_queues_one_move_per_instance_and_reserves_room_on_the_target(api: Api) -> None:
    source = str(_add(api, "source", memory_mb=1024)["id"])
    _, admin = api.tenant("verein-a")
    placed = [api.homepage(admin, name) for name in ("one", "two")]
    for instance_id in placed:
        assert _approve(api, instance_id, source) == 202
    with session_factory(api.db_url)() as session:
        session.execute(update(Instance).where(Instance.id.in_(placed)).values(state="running"))
        session.commit()
    target = str(_add(api, "target", memory_mb=1024)["id"])

    drained = api.client.post(f"/api/v1/servers/{source}/drain", headers=api.operator)
    assert drained.status_code == 202, drained.text
    body = drained.json()
    assert body["server"]["draining"] is True
    assert sorted(m["instance"] for m in body["moves"]) == sorted(placed)
    assert {m["to_server"] for m in body["moves"]} == {target}
    assert {m["job"]["kind"] for m in body["moves"]} == {"move"}
    assert [m["job"]["id"] for m in body["moves"]] == api.dispatcher.sent[-2:]
    # The target holds the room for both while they travel.
    reserved = api.client.get(f"/api/v1/servers/{target}", headers=api.operator).json()["used"]
    assert reserved["memory_mb"] == 2 * 64  # two homepages
    # Asking again queues nothing new.
    assert api.client.post(f"/api/v1/servers/{source}/drain", headers=api.operator).json()["moves"] == []
    _, other_admin = api.tenant("verein-b")
    assert api.client.post(f"/api/v1/servers/{source}/drain", headers=other_admin).status_code == 403


def test_drain_refuses_when_an_instance_fits_nowhere(api: Api) -> None:
    source = str(_add(api, "source")["id"])
    _, admin = api.tenant("verein-a")
    instance_id = api.homepage(admin)
    assert _approve(api, instance_id, source) == 202
    with session_factory(api.db_url)() as session:
        session.execute(update(Instance).where(Instance.id == instance_id).values(state="running"))
        session.commit()
    refused = api.client.post(f"/api/v1/servers/{source}/drain", headers=api.operator)
    assert refused.status_code == 409
    assert "fits on no other server" in refused.json()["detail"]
    assert api.client.get(f"/api/v1/servers/{source}", headers=api.operator).json()["draining"] is False


def test_a_server_is_removed_only_when_nothing_lives_on_it(api: Api) -> None:
    server_id = str(_add(api, "s1")["id"])
    _, admin = api.tenant("verein-a")
    instance_id = api.homepage(admin)
    assert _approve(api, instance_id, server_id) == 202
    assert api.client.delete(f"/api/v1/servers/{server_id}", headers=admin).status_code == 403
    assert api.client.delete("/api/v1/servers/srv_nope", headers=api.operator).status_code == 404

    refused = api.client.delete(f"/api/v1/servers/{server_id}", headers=api.operator)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["detail"] == (
        "server s1 still holds instance site; drain it or remove its instances first"
    )
    assert api.client.get(f"/api/v1/servers/{server_id}", headers=api.operator).status_code == 200

    with session_factory(api.db_url)() as session:
        session.execute(update(Instance).values(state="removed"))
        session.add(ServerCa(server_id=server_id, pem="-----BEGIN CERTIFICATE-----"))
        session.commit()
    removed = api.client.delete(f"/api/v1/servers/{server_id}", headers=api.operator)
    assert (removed.status_code, removed.content) == (204, b"")
    assert api.client.get(f"/api/v1/servers/{server_id}", headers=api.operator).status_code == 404
    with session_factory(api.db_url)() as session:
        assert session.get(ServerCa, server_id) is None  # what the lab kept to trust the server goes
        assert session.get_one(Instance, instance_id).server_id is None  # the history stays


def test_a_bootstrap_is_a_job_of_the_server_for_operators(api: Api) -> None:
    server_id = api.server("s1")
    accepted = api.client.post(f"/api/v1/servers/{server_id}/bootstrap", headers=api.operator)
    assert accepted.status_code == 202, accepted.text
    job = accepted.json()["job"]
    assert (job["kind"], job["status"], job["instance"], job["target_server"]) == (
        "bootstrap", "queued", None, server_id,
    )  # fmt: skip
    assert api.dispatcher.sent == [job["id"]]
    busy = api.client.post(f"/api/v1/servers/{server_id}/bootstrap", headers=api.operator)
    assert busy.status_code == 409
    assert api.client.get(f"/api/v1/jobs/{job['id']}", headers=api.operator).json()["kind"] == "bootstrap"
    _tenant, admin = api.tenant("verein-a")
    assert api.client.post(f"/api/v1/servers/{server_id}/bootstrap", headers=admin).status_code == 403
    assert api.client.get(f"/api/v1/jobs/{job['id']}", headers=admin).status_code == 404
