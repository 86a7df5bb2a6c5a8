"""People who sign in to the portal, and a browser-like client that fills its forms."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi.testclient import TestClient

from provisioner.accounts.service import create_user
from provisioner.auth.actor import Role
from provisioner.db import session_factory

PASSWORD = "a long enough passphrase"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_user(db_url: str, *, email: str, role: str, tenant_id: str | None, name: str = "Kim") -> str:
    with session_factory(db_url)() as session:
        user = create_user(
            session, email=email, name=name, password=PASSWORD, role=Role(role), tenant_id=tenant_id
        )
        session.commit()
        return user.id


def csrf_of(page: str) -> str:
    found = CSRF_FIELD.search(page)
    assert found, "the page has a form with a CSRF token"
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> None:
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303, response.text


@dataclass
class People:
    """Signed-in clients: the lab's operator, the admins of two associations, and a member of the first."""

    operator: TestClient
    admin_a: TestClient
    admin_b: TestClient
    member_a: TestClient
    tenant_a: str
    tenant_b: str
    admin_a_headers: dict[str, str]


def request_service(client: TestClient, template: str, fields: dict[str, str]) -> str:
    """Send the catalog's request form for ``template`` as a person would; returns the new instance's id."""
    form = client.get(f"/catalog/{template}/request")
    data = {"csrf_token": csrf_of(form.text), **fields}
    response = client.post(f"/catalog/{template}/request", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers["location"].rsplit("/", 1)[1]


def request_homepage(client: TestClient, name: str = "site", title: str = "Unser Verein") -> str:
    return request_service(client, "homepage", {"name": name, "param-title": title, "param-language": "de"})


def field_state(page: str, html_id: str) -> str:
    """``invalid`` when the field is marked wrong with its error tied to it, ``valid`` when not marked."""
    tag = re.search(rf'<(?:input|select|textarea) id="{re.escape(html_id)}"[^>]*>', page)
    assert tag, f"no field {html_id}"
    marked = 'aria-invalid="true"' in tag.group(0)
    tied = f"{html_id}-error" in tag.group(0) and f'id="{html_id}-error"' in page
    return "invalid" if marked and tied else "valid" if not marked else "invalid without its error"
