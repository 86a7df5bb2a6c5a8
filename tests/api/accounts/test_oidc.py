"""Login through an OpenID Connect provider (code flow with PKCE), against a small real provider on
loopback (tests/support/oidc_provider.py) that stands in for the lab's Keycloak."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from provisioner.accounts.service import create_user
from provisioner.accounts.sessions import SESSION_COOKIE
from provisioner.auth.actor import Role
from provisioner.config import Settings
from provisioner.db import session_factory
from tests.support.oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider, oidc_provider


@pytest.fixture
def provider() -> Iterator[OidcProvider]:
    with oidc_provider() as running:
        yield running


@pytest.fixture
def client(db_url: str, tmp_path: Path, provider: OidcProvider) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path,
        database_url=db_url,
        broker_url="memory://",
        public_url="https://portal.lab.example",
        oidc_issuer=provider.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
    )
    with session_factory(db_url)() as session:
        create_user(
            session, email="Op@Lab.example", name="Op", password=None, role=Role.OPERATOR, tenant_id=None
        )
        session.commit()
    with TestClient(create_app(settings), base_url="https://portal.lab.example") as test_client:
        yield test_client


def _through_provider(client: TestClient) -> httpx.Response:
    """Start the login, let the provider approve, and come back with its code and state."""
    start = client.get("/api/v1/oidc/login", follow_redirects=False)
    assert start.status_code == 303, start.text
    authorize = start.headers["location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == ["https://portal.lab.example/api/v1/oidc/callback"]
    approved = httpx.get(authorize, follow_redirects=False, timeout=10)
    assert approved.status_code == 302, approved.text
    back = urlsplit(approved.headers["location"])
    return client.get(f"{back.path}?{back.query}", follow_redirects=False)


def test_a_verified_address_of_an_existing_account_logs_in(client: TestClient) -> None:
    back = _through_provider(client)
    assert back.status_code == 303, back.text
    assert back.headers["location"] == "/"
    assert SESSION_COOKIE in back.headers["set-cookie"]
    assert client.get("/api/v1/tenants").status_code == 200
    csrf = client.get("/api/v1/session").json()["csrf_token"]
    assert client.delete("/api/v1/session", headers={"X-CSRF-Token": csrf}).status_code == 204


def test_an_unknown_or_unverified_address_does_not_log_in(client: TestClient, provider: OidcProvider) -> None:
    provider.person = {"email": "stranger@lab.example", "email_verified": True}
    assert _through_provider(client).status_code == 401
    provider.person = {"email": "op@lab.example", "email_verified": False}
    refused = _through_provider(client)
    assert refused.status_code == 401
    assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")
    assert client.get("/api/v1/tenants").status_code == 401


def test_a_state_works_once_and_a_made_up_one_not_at_all(client: TestClient, provider: OidcProvider) -> None:
    start = client.get("/api/v1/oidc/login", follow_redirects=False)
    approved = httpx.get(start.headers["location"], follow_redirects=False, timeout=10)
    back = urlsplit(approved.headers["location"])
    assert client.get(f"{back.path}?{back.query}", follow_redirects=False).status_code == 303
    assert client.get(f"{back.path}?{back.query}", follow_redirects=False).status_code == 401
    forged = client.get("/api/v1/oidc/callback?code=abc&state=made-up", follow_redirects=False)
    assert forged.status_code == 401
    assert provider.token_requests == 1  # neither reached the provider


def test_a_login_started_in_another_browser_does_not_log_this_one_in(
    client: TestClient, provider: OidcProvider
) -> None:
    """Login CSRF (RFC 6749 section 10.12): someone starts a login with their own account and sends
    the link back from the provider to a victim, whose browser would end up signed in as them."""
    start = client.get("/api/v1/oidc/login", follow_redirects=False)
    binding = start.headers["set-cookie"]
    assert "provisioner_oidc=" in binding
    assert "HttpOnly" in binding
    assert "Path=/api/v1/oidc" in binding
    assert "SameSite=lax" in binding
    approved = httpx.get(start.headers["location"], follow_redirects=False, timeout=10)
    back = urlsplit(approved.headers["location"])
    with TestClient(client.app, base_url="https://portal.lab.example") as victim:
        refused = victim.get(f"{back.path}?{back.query}", follow_redirects=False)
        assert refused.status_code == 401
        assert "started in this browser" in refused.json()["detail"]
        assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")
        assert victim.get("/api/v1/tenants").status_code == 401
    assert provider.token_requests == 0
    # the browser that started it still finishes it, and its binding cookie goes
    finished = client.get(f"{back.path}?{back.query}", follow_redirects=False)
    assert finished.status_code == 303
    assert 'provisioner_oidc=""' in finished.headers["set-cookie"]


def test_without_settings_there_is_no_such_login(api_settings_without_oidc: TestClient) -> None:
    assert api_settings_without_oidc.get("/api/v1/oidc/login", follow_redirects=False).status_code == 404


@pytest.fixture
def api_settings_without_oidc(db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, database_url=db_url, broker_url="memory://")
    with TestClient(create_app(settings)) as test_client:
        yield test_client
