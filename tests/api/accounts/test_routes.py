"""The accounts API over HTTP: cookie sessions with CSRF, invitations by real SMTP, resets, members."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api import deps
from api.app import create_app
from provisioner.accounts.service import create_user
from provisioner.accounts.sessions import SESSION_COOKIE
from provisioner.auth.actor import Role
from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.models import User
from tests.api.conftest import Api, RecordingDispatcher
from tests.support.portal import make_user
from tests.support.smtp_sink import SmtpSink, plain_text, smtp_sink

PASSWORD = "a long enough secret"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with smtp_sink() as running:
        yield running


@pytest.fixture
def mailing_api(db_url: str, tmp_path: Path, sink: SmtpSink) -> Iterator[Api]:
    settings = Settings(
        data_dir=tmp_path,
        database_url=db_url,
        broker_url="memory://",
        smtp_host=sink.host,
        smtp_port=sink.port,
        public_url="https://portal.lab.example",
    )
    app = create_app(settings)
    dispatcher = RecordingDispatcher()
    app.state.dispatcher = dispatcher
    # Over HTTPS, as the public address says: cookies are Secure there.
    with TestClient(app, base_url="https://portal.lab.example") as client:
        yield Api(client, db_url, dispatcher)


def _operator_account(api: Api, email: str = "op@lab.example") -> str:
    with session_factory(api.db_url)() as session:
        user = create_user(
            session, email=email, name="Op", password=PASSWORD, role=Role.OPERATOR, tenant_id=None
        )
        session.commit()
        return user.id


def _log_in(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/session", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"X-CSRF-Token": response.json()["csrf_token"]}


def _member_signed_in(api: Api, tenant_id: str) -> tuple[User, TestClient]:
    """Ben, a member of the association, and a client with his session."""
    with session_factory(api.db_url)() as session:
        ben = create_user(
            session,
            email="ben@a.example",
            name="Ben",
            password=PASSWORD,
            role=Role.MEMBER,
            tenant_id=tenant_id,
        )
        session.commit()
    client = TestClient(api.client.app)
    _log_in(client, "ben@a.example")
    return ben, client


def _token_in(sink: SmtpSink, count: int, kind: str) -> str:
    body = plain_text(sink.wait_for(count)[count - 1])
    found = re.search(rf"https://portal\.lab\.example/{kind}/(\S+)", body)
    assert found, body
    return found.group(1)


def test_login_sets_a_safe_cookie_and_changes_need_the_csrf_header(api: Api) -> None:
    _operator_account(api)
    response = api.client.post("/api/v1/session", json={"email": "OP@lab.example", "password": PASSWORD})
    assert response.status_code == 200, response.text
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert "Path=/" in cookie
    assert "Secure" not in cookie  # only in production
    csrf = {"X-CSRF-Token": response.json()["csrf_token"]}

    assert api.client.get("/api/v1/tenants").status_code == 200
    body = {"slug": "verein-a", "name": "A e.V.", "contact_email": "a@a.example"}
    refused = api.client.post("/api/v1/tenants", json=body)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert "CSRF" in refused.json()["detail"]
    assert api.client.post("/api/v1/tenants", json=body, headers={"X-CSRF-Token": "wrong"}).status_code == 403
    assert api.client.post("/api/v1/tenants", json=body, headers=csrf).status_code == 201

    old_cookie = api.client.cookies[SESSION_COOKIE]
    assert api.client.delete("/api/v1/session").status_code == 403  # logging out also needs the token
    assert api.client.delete("/api/v1/session", headers=csrf).status_code == 204
    replay = TestClient(api.client.app)
    replay.cookies.set(SESSION_COOKIE, old_cookie)
    assert replay.get("/api/v1/tenants").status_code == 401


def test_wrong_logins_slow_an_address_down_but_its_owner_still_gets_in(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five wrong passwords used to lock the account for everyone, its owner too."""
    waits: list[float] = []

    async def pause(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(deps, "pause", pause)
    _operator_account(api)
    for _ in range(7):
        response = api.client.post(
            "/api/v1/session", json={"email": "op@lab.example", "password": "nope nope nope"}
        )
        assert response.status_code == 401
        assert response.json()["detail"] == "e-mail or password is wrong"
    assert waits == [1.0, 2.0]  # no wait for the first five failures, then doubling
    owner = api.client.post("/api/v1/session", json={"email": "op@lab.example", "password": PASSWORD})
    assert owner.status_code == 200
    assert SESSION_COOKIE in owner.headers["set-cookie"]
    assert waits == [1.0, 2.0, 4.0]


def test_the_client_address_comes_from_the_trusted_proxy_only(db_url: str, tmp_path: Path) -> None:
    """Behind the proxy every client used to have its address: one login limit and one audit address
    for all. A header from anyone but the proxy must not pick the address either."""
    settings = Settings(
        data_dir=tmp_path, database_url=db_url, broker_url="memory://", trusted_proxies="10.0.0.2"
    )
    app = create_app(settings)
    app.state.dispatcher = RecordingDispatcher()
    create = {"slug": "verein-a", "name": "A e.V.", "contact_email": "a@verein-a.org"}
    with TestClient(app, client=("10.0.0.2", 40000)) as behind_proxy:
        operator = Api(behind_proxy, db_url, app.state.dispatcher).operator
        for n in range(25):  # more than one address may try in a minute: each is a client of its own
            forwarded = {"X-Forwarded-For": f"198.51.100.{n}"}
            wrong = {"email": f"nobody{n}@lab.example", "password": "nope nope nope"}
            assert behind_proxy.post("/api/v1/session", json=wrong, headers=forwarded).status_code == 401
        behind_proxy.post(
            "/api/v1/tenants", json=create, headers={**operator, "X-Forwarded-For": "198.51.100.77"}
        )
    with TestClient(app, client=("192.0.2.9", 40000)) as direct:
        spoofed = {**operator, "X-Forwarded-For": "198.51.100.78"}
        direct.post("/api/v1/tenants", json={**create, "slug": "verein-b"}, headers=spoofed)
        addresses = [
            e["client_address"] for e in direct.get("/api/v1/audit", headers=operator).json()["items"]
        ]
    assert "198.51.100.77" in addresses
    assert "192.0.2.9" in addresses
    assert "198.51.100.78" not in addresses
    assert "10.0.0.2" not in addresses


def test_an_admin_invites_a_member_who_accepts_and_logs_in(mailing_api: Api, sink: SmtpSink) -> None:
    api = mailing_api
    tenant_id, admin = api.tenant("verein-a")
    response = api.client.post(
        f"/api/v1/tenants/{tenant_id}/invitations",
        json={"email": "Ben@A.example", "role": "member"},
        headers=admin,
    )
    assert response.status_code == 201, response.text
    token = _token_in(sink, 1, "invitations")
    assert token not in response.text
    assert response.json()["email"] == "ben@a.example"

    accepted = api.client.post(
        "/api/v1/invitations/accept", json={"token": token, "name": "Ben", "password": "short"}
    )
    assert accepted.status_code == 422
    assert accepted.json()["errors"][0]["field"] == "password"
    accepted = api.client.post(
        "/api/v1/invitations/accept", json={"token": token, "name": "Ben", "password": PASSWORD}
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["role"] == "member"
    again = api.client.post(
        "/api/v1/invitations/accept", json={"token": token, "name": "Eve", "password": PASSWORD}
    )
    assert again.status_code == 404

    _log_in(api.client, "ben@a.example")
    members = api.client.get(f"/api/v1/tenants/{tenant_id}/members").json()["items"]
    assert [m["email"] for m in members] == ["ben@a.example"]
    assert "password_hash" not in str(members)
    # Members look only.
    csrf = _log_in(api.client, "ben@a.example")
    invite = {"email": "x@a.example", "role": "admin"}
    assert (
        api.client.post(f"/api/v1/tenants/{tenant_id}/invitations", json=invite, headers=csrf).status_code
        == 403
    )


def test_operators_invite_operators_and_tenants_cannot(mailing_api: Api, sink: SmtpSink) -> None:
    api = mailing_api
    _, admin = api.tenant("verein-a")
    assert (
        api.client.post("/api/v1/invitations", json={"email": "x@lab.example"}, headers=admin).status_code
        == 403
    )
    response = api.client.post(
        "/api/v1/invitations", json={"email": "new-op@lab.example"}, headers=api.operator
    )
    assert response.status_code == 201, response.text
    assert response.json()["role"] == "operator"
    assert response.json()["tenant"] is None
    token = _token_in(sink, 1, "invitations")
    body = {"token": token, "name": "New Op", "password": PASSWORD}
    assert api.client.post("/api/v1/invitations/accept", json=body).status_code == 201
    bad = api.client.post("/api/v1/invitations", json={"email": "not-an-address"}, headers=api.operator)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "body.email"


def test_another_tenants_people_answer_404(mailing_api: Api) -> None:
    api = mailing_api
    tenant_a, admin_a = api.tenant("verein-a")
    tenant_b, _ = api.tenant("verein-b")
    with session_factory(api.db_url)() as session:
        carla = create_user(
            session,
            email="carla@b.example",
            name="Carla",
            password=PASSWORD,
            role=Role.ADMIN,
            tenant_id=tenant_b,
        )
        session.commit()
    assert api.client.get(f"/api/v1/tenants/{tenant_b}/members", headers=admin_a).status_code == 404
    assert (
        api.client.patch(f"/api/v1/users/{carla.id}", json={"role": "member"}, headers=admin_a).status_code
        == 404
    )
    assert (
        api.client.patch("/api/v1/users/usr_missing", json={"role": "member"}, headers=admin_a).status_code
        == 404
    )
    assert api.client.delete(f"/api/v1/users/{carla.id}", headers=admin_a).status_code == 404
    invite = {"email": "x@b.example", "role": "admin"}
    assert (
        api.client.post(f"/api/v1/tenants/{tenant_b}/invitations", json=invite, headers=admin_a).status_code
        == 404
    )
    assert api.client.get(f"/api/v1/tenants/{tenant_a}/members", headers=admin_a).json()["items"] == []


def test_an_admin_changes_a_role_and_removes_a_person_whose_session_then_ends(api: Api) -> None:
    tenant_id, admin = api.tenant("verein-a")
    ben, ben_client = _member_signed_in(api, tenant_id)
    assert ben_client.get(f"/api/v1/tenants/{tenant_id}/members").status_code == 200

    changed = api.client.patch(f"/api/v1/users/{ben.id}", json={"role": "admin"}, headers=admin)
    assert changed.status_code == 200
    assert changed.json()["role"] == "admin"
    assert api.client.delete(f"/api/v1/users/{ben.id}", headers=admin).status_code == 204
    assert ben_client.get(f"/api/v1/tenants/{tenant_id}/members").status_code == 401


def test_password_reset_answers_202_for_any_address_and_ends_sessions(
    mailing_api: Api, sink: SmtpSink
) -> None:
    api = mailing_api
    _operator_account(api)
    _log_in(api.client, "op@lab.example")
    for email in ("op@lab.example", "nobody@lab.example"):
        response = api.client.post("/api/v1/password-reset", json={"email": email})
        assert response.status_code == 202
        assert response.content == b""
    token = _token_in(sink, 1, "password-reset")
    response = api.client.post(
        "/api/v1/password-reset/confirm", json={"token": token, "password": "a new long secret"}
    )
    assert response.status_code == 204, response.text
    assert api.client.get("/api/v1/tenants").status_code == 401
    _log_in(api.client, "op@lab.example", "a new long secret")
    again = api.client.post(
        "/api/v1/password-reset/confirm", json={"token": token, "password": "third long secret"}
    )
    assert again.status_code == 404
    assert len(sink.messages) == 1


def test_password_reset_requests_are_rate_limited(api: Api) -> None:
    codes = [
        api.client.post("/api/v1/password-reset", json={"email": "op@lab.example"}).status_code
        for _ in range(4)
    ]
    assert codes == [202, 202, 202, 429]


def test_a_disabled_person_is_logged_out_and_cannot_log_in_until_enabled(api: Api) -> None:
    tenant_id, admin = api.tenant("verein-a")
    ben, ben_client = _member_signed_in(api, tenant_id)
    assert api.client.patch(f"/api/v1/users/{ben.id}", json={}, headers=admin).status_code == 422

    disabled = api.client.patch(f"/api/v1/users/{ben.id}", json={"disabled": True}, headers=admin)
    assert disabled.status_code == 200
    assert disabled.json()["disabled"] is True
    assert ben_client.get(f"/api/v1/tenants/{tenant_id}").status_code == 401
    refused = ben_client.post("/api/v1/session", json={"email": "ben@a.example", "password": PASSWORD})
    assert refused.status_code == 401

    assert (
        api.client.patch(f"/api/v1/users/{ben.id}", json={"disabled": False}, headers=admin).status_code
        == 200
    )
    _log_in(ben_client, "ben@a.example")
    assert api.client.get(f"/api/v1/users/{ben.id}", headers=admin).json()["disabled"] is False


def test_inviting_an_address_with_an_account_elsewhere_answers_as_for_anyone(
    mailing_api: Api, sink: SmtpSink
) -> None:
    """An association's admin must not learn that an address has an account in another association."""
    api = mailing_api
    tenant_a, _ = api.tenant("verein-a")
    tenant_b, admin_b = api.tenant("verein-b")
    make_user(api.db_url, email="kim@mail.example", role="member", tenant_id=tenant_a)
    taken = api.client.post(
        f"/api/v1/tenants/{tenant_b}/invitations",
        json={"email": "kim@mail.example", "role": "member"},
        headers=admin_b,
    )
    fresh = api.client.post(
        f"/api/v1/tenants/{tenant_b}/invitations",
        json={"email": "lou@mail.example", "role": "member"},
        headers=admin_b,
    )
    assert (taken.status_code, fresh.status_code) == (201, 201)
    assert set(taken.json()) == set(fresh.json())
    told, invited = (plain_text(m) for m in sink.wait_for(2))
    assert "hat hier schon ein Konto" in told  # in the person's association's language: the lab's German
    assert "/invitations/" not in told
    assert "/invitations/" in invited
    # within one's own association, or for an operator, there is nothing to hide
    same = api.client.post(
        f"/api/v1/tenants/{tenant_a}/invitations",
        json={"email": "kim@mail.example", "role": "admin"},
        headers=api.operator,
    )
    assert same.status_code == 409
