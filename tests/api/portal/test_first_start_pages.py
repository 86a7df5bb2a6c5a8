"""The first-start link's page: the first operator's account, with the checks and errors of each field."""

from __future__ import annotations

from fastapi.testclient import TestClient

from provisioner.accounts.first_start import open_first_start_link
from provisioner.db import session_factory
from tests.support.portal import PASSWORD, csrf_of, field_state


def _link(db_url: str) -> str:
    with session_factory(db_url)() as session:
        link = open_first_start_link(session)
        session.commit()
    assert link is not None
    return link[0]


def _filled(page: str, *, password: str) -> dict[str, str]:
    return {"csrf_token": csrf_of(page), "email": "kim@lab.example", "name": "Kim", "password": password}


def test_the_first_operator_signs_up_through_the_printed_link(api) -> None:  # type: ignore[no-untyped-def]
    link = _link(api.db_url)
    browser = TestClient(api.client.app, headers={"Accept-Language": "de"})
    form = browser.get(link)
    assert form.status_code == 200
    assert "Das erste Konto des Labs einrichten" in form.text
    assert (
        browser.post(link, data={"email": "kim@lab.example", "name": "Kim", "password": PASSWORD}).status_code
        == 403
    ), "no form token"
    wrong = browser.post(
        link, data={"csrf_token": csrf_of(form.text), "email": "kein-mail", "name": "", "password": "kurz"}
    )
    assert wrong.status_code == 422
    assert {f: field_state(wrong.text, f) for f in ("email", "name", "password")} == {
        "email": "invalid",
        "name": "invalid",
        "password": "valid",  # not checked while the other fields are wrong
    }
    assert 'value="kein-mail"' in wrong.text, "what was typed stays"
    weak = browser.post(link, data=_filled(wrong.text, password="kurz"))
    assert weak.status_code == 422
    assert field_state(weak.text, "password") == "invalid"
    done = browser.post(link, data=_filled(weak.text, password=PASSWORD), follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == "/operator/servers"
    assert "Server" in browser.get("/operator/servers").text, "signed in as an operator"
    assert browser.get(link).status_code == 404, "the link works once"


def test_an_unknown_link_is_not_found(api) -> None:  # type: ignore[no-untyped-def]
    assert api.client.get("/first-start/nothing-like-it").status_code == 404
