"""Servers in the portal: added after their host key is confirmed, drained, taken back, removed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from provisioner.db import session_factory
from provisioner.models import Server
from provisioner.servers.hostkeys import fingerprint
from tests.support.factories import HOST_KEY
from tests.support.portal import People, csrf_of, field_state

FORM = {
    "name": "server-1",
    "address": "192.0.2.20",
    "port": "22",
    "user": "root",
    "cpu": "4",
    "memory_mb": "8192",
    "disk_gb": "100",
    "public_address": "203.0.113.20",
    "root_dir": "/srv/lab",
}


def test_a_server_is_added_only_with_the_host_key_the_operator_saw(people: People, api, keyscan) -> None:  # type: ignore[no-untyped-def]
    form = people.operator.get("/operator/servers/new")
    assert "ssh-ed25519 " in form.text, "the lab's key to install on the server"
    token = csrf_of(form.text)
    shown = people.operator.post("/operator/servers/new", data={"csrf_token": token, **FORM})
    assert shown.status_code == 200
    assert keyscan == [("192.0.2.20", 22)]
    assert fingerprint(HOST_KEY) in shown.text
    with session_factory(api.db_url)() as session:
        assert session.scalar(select(Server.id)) is None, "nothing stored before the confirmation"
    confirmed = people.operator.post(
        "/operator/servers/new",
        data={"csrf_token": token, **FORM, "host_key": HOST_KEY},
        follow_redirects=False,
    )
    assert confirmed.status_code == 303
    with session_factory(api.db_url)() as session:
        server = session.scalars(select(Server)).one()
        assert (server.name, server.host_key, server.cpu, server.memory_mb) == ("server-1", HOST_KEY, 4, 8192)
        assert (server.public_address, server.root_dir) == ("203.0.113.20", "/srv/lab")
    assert keyscan == [("192.0.2.20", 22)], "the confirmed key is stored, none read anew"
    listed = people.operator.get(confirmed.headers["location"]).text
    assert "The server was added." in listed
    notice = listed.split('role="status"', 1)[1].split("</div>", 1)[0]
    assert f'action="/operator/servers/{server.id}/bootstrap"' in notice, "its bootstrap is offered first"
    other = people.operator.get(f"/operator/servers?notice=added&server={server.id}x").text
    assert "/bootstrap" not in other.split('role="status"', 1)[1].split("</div>", 1)[0]
    again = people.operator.post("/operator/servers/new", data={"csrf_token": token, **FORM})
    assert again.status_code == 409
    assert field_state(again.text, "field-name") == "invalid"


def test_wrong_fields_are_marked_as_the_api_would_refuse_them(people: People, keyscan) -> None:  # type: ignore[no-untyped-def]
    token = csrf_of(people.operator.get("/operator/servers/new").text)
    wrong = {
        **FORM,
        "name": "Server 1",
        "port": "70000",
        "cpu": "0",
        "memory_mb": "viel",
        "base_domain": "not a domain",
        "public_address": "not an address",
        "root_dir": "srv/relative",
    }
    refused = people.operator.post("/operator/servers/new", data={"csrf_token": token, **wrong})
    assert refused.status_code == 422
    states = {field: field_state(refused.text, f"field-{field}") for field in (*FORM, "base_domain")}
    wrong_fields = {"name", "port", "cpu", "memory_mb", "base_domain", "public_address", "root_dir"}
    assert states == {field: "invalid" if field in wrong_fields else "valid" for field in states}
    assert keyscan == [], "nothing is scanned for a form with errors"
    api_refused = people.operator.post("/operator/servers/new", data=FORM)
    assert api_refused.status_code == 403, "no CSRF token"


def test_an_address_without_sshd_is_named_as_the_problem(
    people: People, api, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    token = csrf_of(people.operator.get("/operator/servers/new").text)
    # Real ssh-keyscan against a loopback port where nothing listens.
    refused = people.operator.post(
        "/operator/servers/new", data={"csrf_token": token, **FORM, "address": "127.0.0.1", "port": "9"}
    )
    assert refused.status_code == 422
    assert field_state(refused.text, "field-address") == "invalid"
    assert "No SSH host key could be read" in refused.text


def test_drain_take_back_and_remove(people: People, api) -> None:  # type: ignore[no-untyped-def]
    server_id = api.server("s1")
    page = people.operator.get("/operator/servers").text
    token = csrf_of(page)
    assert people.operator.post(f"/operator/servers/{server_id}/drain", data={}).status_code == 403
    drained = people.operator.post(f"/operator/servers/{server_id}/drain", data={"csrf_token": token})
    assert "takes no new services" in drained.text
    back = people.operator.post(f"/operator/servers/{server_id}/undrain", data={"csrf_token": token})
    assert "The server takes new services again." in back.text
    instance = api.homepage(people.admin_a_headers)
    approved = api.client.post(
        f"/api/v1/instances/{instance}/approve", json={"server": server_id}, headers=api.operator
    )
    assert approved.status_code == 202, approved.text
    assert "Remove s1" in people.operator.get(f"/operator/servers/{server_id}/remove").text
    refused = people.operator.post(f"/operator/servers/{server_id}/remove", data={"csrf_token": token})
    assert refused.status_code == 409
    assert "services still live on it" in refused.text
    with session_factory(api.db_url)() as session:
        session.get_one(Server, server_id)
    empty = api.server("s2")
    removed = people.operator.post(f"/operator/servers/{empty}/remove", data={"csrf_token": token})
    assert "The server was removed." in removed.text
    with session_factory(api.db_url)() as session:
        assert session.get(Server, empty) is None


def test_only_operators_reach_the_server_forms(people: People, api) -> None:  # type: ignore[no-untyped-def]
    server_id = api.server("s1")
    token = csrf_of(people.admin_a.get("/services").text)
    assert people.admin_a.get("/operator/servers/new").status_code == 403
    for path in (
        "/operator/servers/new",
        f"/operator/servers/{server_id}/drain",
        f"/operator/servers/{server_id}/check",
        f"/operator/servers/{server_id}/remove",
    ):
        assert people.admin_a.post(path, data={"csrf_token": token, **FORM}).status_code == 403, path


def test_a_bootstrap_is_started_from_the_servers_page_and_followed_on_its_job_page(
    people: People, api
) -> None:  # type: ignore[no-untyped-def]
    server_id = api.server("s1")
    page = people.operator.get("/operator/servers").text
    assert f'action="/operator/servers/{server_id}/bootstrap"' in page
    token = csrf_of(page)
    started = people.operator.post(
        f"/operator/servers/{server_id}/bootstrap", data={"csrf_token": token}, follow_redirects=False
    )
    assert started.status_code == 303
    job_id = started.headers["location"].rsplit("/", 1)[-1]
    assert api.dispatcher.sent == [job_id]
    job_page = people.operator.get(f"/jobs/{job_id}").text
    assert f'href="/operator/servers#srv-{server_id}">s1</a>' in job_page
    assert 'data-stream="/jobs/' in job_page
    again = people.operator.post(f"/operator/servers/{server_id}/bootstrap", data={"csrf_token": token})
    assert "under way already" in again.text
    assert api.dispatcher.sent == [job_id]
    assert people.admin_a.get(f"/jobs/{job_id}").status_code == 404
    jobs = people.operator.get("/operator/jobs").text
    assert job_id in jobs


def test_a_new_server_can_be_checked_at_once(people: People, api) -> None:  # type: ignore[no-untyped-def]
    server_id = api.server()  # at 192.0.2.10, which no one answers: the check says so at once
    page = people.operator.get("/operator/servers").text
    assert "Not checked yet" in page
    assert "Check it now to see at once whether the lab reaches it." in page
    token = csrf_of(page)
    checked = people.operator.post(f"/operator/servers/{server_id}/check", data={"csrf_token": token})
    assert "could not be reached over SSH" in checked.text
    assert "Not checked yet" not in checked.text
    with session_factory(api.db_url)() as session:
        assert session.get_one(Server, server_id).reachable is False
