"""Catalog rules at the HTTP edge: parameters and subdomains refused with the field named,
and generated credentials shown once."""

from __future__ import annotations

from sqlalchemy import select

from provisioner.config import Settings
from provisioner.crypto import decrypt
from provisioner.db import session_factory
from provisioner.models import Instance, InstanceSecret, PortAllocation
from tests.api.conftest import Api
from tests.support.portal import PASSWORD, make_user


def _request(api: Api, headers: dict[str, str], **body: object) -> tuple[int, dict[str, object]]:
    response = api.client.post("/api/v1/instances", json=body, headers=headers)
    return response.status_code, response.json()


def test_a_parameter_outside_the_schema_is_422_naming_the_field(api: Api) -> None:
    _, admin = api.tenant("verein-a")
    status, body = _request(
        api, admin, template="wordpress", name="site", parameters={"language": "fr_FR", "theme": "dark"}
    )
    assert status == 422
    fields = {e["field"] for e in body["errors"]}  # type: ignore[attr-defined]
    assert fields == {"body.parameters.language", "body.parameters.theme"}


def test_a_subdomain_is_a_dns_label_and_taken_once_per_domain(api: Api) -> None:
    _, admin_a = api.tenant("verein-a")
    _, admin_b = api.tenant("verein-b")
    status, first = _request(api, admin_a, template="homepage", name="site", subdomain="garten",
                             parameters={"title": "A"})  # fmt: skip
    assert status == 201
    assert (first["subdomain"], first["hostname"]) == ("garten", "garten.localhost")

    status, body = _request(api, admin_b, template="homepage", name="site", subdomain="garten",
                            parameters={"title": "B"})  # fmt: skip
    assert status == 409
    assert body["errors"] == [
        {"field": "body.subdomain", "message": "garten.localhost is taken; choose another"}
    ]

    for bad in ("Garten", "-garten", "garten-", "gar_ten", "a" * 64, "www"):
        status, body = _request(api, admin_b, template="homepage", name="site", subdomain=bad,
                                parameters={"title": "B"})  # fmt: skip
        assert status == 422, bad
        assert body["errors"][0]["field"] == "body.subdomain"  # type: ignore[index]

    # Left out, it is made of the instance's and the association's names.
    status, body = _request(api, admin_b, template="homepage", name="site", parameters={"title": "B"})
    assert (status, body["subdomain"]) == (201, "site-verein-b")


def test_a_rejected_instance_frees_its_subdomain(api: Api) -> None:
    _, admin_a = api.tenant("verein-a")
    _, admin_b = api.tenant("verein-b")
    _, first = _request(api, admin_a, template="homepage", name="site", subdomain="garten",
                        parameters={"title": "A"})  # fmt: skip
    api.client.post(f"/api/v1/instances/{first['id']}/reject", json={"reason": "no"}, headers=api.operator)
    status, _ = _request(api, admin_b, template="homepage", name="site", subdomain="garten",
                         parameters={"title": "B"})  # fmt: skip
    assert status == 201


def test_approval_generates_encrypted_secrets_and_ports_shown_once(api: Api) -> None:
    _, admin = api.tenant("verein-a")
    api.server()
    status, requested = _request(api, admin, template="jitsi", name="meet", parameters={})
    assert status == 201
    instance_id = requested["id"]
    early = api.client.get(f"/api/v1/instances/{instance_id}/credentials", headers=admin)
    assert early.status_code == 409, "nothing to show before approval"
    assert (
        api.client.post(f"/api/v1/instances/{instance_id}/approve", headers=api.operator).status_code == 202
    )

    with session_factory(api.db_url)() as session:
        secrets = session.scalars(
            select(InstanceSecret).where(InstanceSecret.instance_id == instance_id)
        ).all()
        assert {s.name for s in secrets} == {
            "jicofo_auth_password", "jvb_auth_password", "moderator_password", "jwt_app_secret"
        }  # fmt: skip
        settings = Settings()
        assert all(decrypt(settings, s.encrypted) not in s.encrypted for s in secrets)
        [port] = session.scalars(select(PortAllocation).where(PortAllocation.instance_id == instance_id))
        assert (port.name, port.protocol) == ("media", "udp")
        instance = session.get_one(Instance, instance_id)
        assert instance.url == "https://meet-verein-a.localhost/"

    first = api.client.get(f"/api/v1/instances/{instance_id}/credentials", headers=admin)
    assert first.status_code == 200, first.text
    # Internal passwords stay inside the instance; only what a template marks as shown is shown.
    shown = first.json()
    assert shown["url"] == "https://meet-verein-a.localhost/"
    assert set(shown["credentials"]) == {"moderator_password"}
    again = api.client.get(f"/api/v1/instances/{instance_id}/credentials", headers=admin)
    assert again.status_code == 410
    assert again.headers["content-type"].startswith("application/problem+json")
    assert "reset" in again.json()["detail"]


def test_a_shown_secret_reaches_the_admin_once_and_never_another_tenant(api: Api) -> None:
    _, admin = api.tenant("verein-a")
    _, other = api.tenant("verein-b")
    api.server()
    _, requested = _request(api, admin, template="nextcloud", name="cloud", parameters={})
    instance_id = requested["id"]
    assert (
        api.client.post(f"/api/v1/instances/{instance_id}/approve", headers=api.operator).status_code == 202
    )
    assert api.client.get(f"/api/v1/instances/{instance_id}/credentials", headers=other).status_code == 404
    shown = api.client.get(f"/api/v1/instances/{instance_id}/credentials", headers=admin).json()
    assert set(shown["credentials"]) == {"admin_password"}
    assert len(shown["credentials"]["admin_password"]) == 20


def test_a_link_on_another_site_cannot_spend_the_one_showing_through_the_portal_cookie(api: Api) -> None:
    """A GET changes nothing for a browser session: a cross-site link or image would carry its cookie
    (SameSite=Lax lets top-level GETs through). The browser POSTs with the CSRF token instead."""
    tenant_id, admin = api.tenant("verein-a")
    api.server()
    _, requested = _request(api, admin, template="nextcloud", name="cloud", parameters={})
    instance_id = requested["id"]
    api.client.post(f"/api/v1/instances/{instance_id}/approve", headers=api.operator)
    make_user(api.db_url, email="anna@verein-a.org", role="admin", tenant_id=tenant_id)
    login = {"email": "anna@verein-a.org", "password": PASSWORD}
    csrf = {"X-CSRF-Token": api.client.post("/api/v1/session", json=login).json()["csrf_token"]}
    path = f"/api/v1/instances/{instance_id}/credentials"
    link = api.client.get(path)
    assert link.status_code == 403
    assert "POST" in link.json()["detail"]
    assert api.client.post(path).status_code == 403  # no CSRF token
    with session_factory(api.db_url)() as session:
        assert session.get_one(Instance, instance_id).credentials_revealed_at is None
    shown = api.client.post(path, headers=csrf)
    assert shown.status_code == 200
    assert shown.headers["cache-control"] == "no-store"
    assert set(shown.json()["credentials"]) == {"admin_password"}
    assert api.client.post(path, headers=csrf).status_code == 410
