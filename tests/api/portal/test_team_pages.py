"""Without a mail server the portal does not pretend: whoever invites someone or resets a password for them
is shown the one-time link to pass on, once; with one, the link goes by mail and is not shown."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from provisioner.db import session_factory
from provisioner.models import User
from tests.support.portal import PASSWORD, People, csrf_of
from tests.support.smtp_sink import plain_text, smtp_sink

SHOWN_LINK = re.compile(r'id="handed-link" type="text" readonly value="([^"]+)"')


def _user_id(db_url: str, email: str) -> str:
    with session_factory(db_url)() as session:
        return session.scalars(select(User.id).where(User.email == email)).one()


def _shown_link(page: str) -> str:
    found = SHOWN_LINK.search(page)
    assert found, "the page shows the one-time link"
    return html.unescape(found.group(1))


def test_without_mail_an_invitation_shows_its_link_once_and_the_link_works(people: People, api) -> None:  # type: ignore[no-untyped-def]
    page = people.admin_a.get("/team").text
    response = people.admin_a.post(
        "/team/invite", data={"csrf_token": csrf_of(page), "email": "neu@verein-a.org", "role": "member"}
    )
    assert response.status_code == 200
    assert "it was not sent: the lab has no mail server set up" in response.text
    assert "on its way" not in response.text
    link = _shown_link(response.text)
    assert link.startswith("http://127.0.0.1:8000/invitations/")
    assert "handed-link" not in people.admin_a.get("/team").text, "shown in that answer only"
    newcomer = TestClient(api.client.app, headers={"Accept-Language": "de"})
    path = link.removeprefix("http://127.0.0.1:8000")
    form = newcomer.get(path)
    assert "neu@verein-a.org" in form.text
    done = newcomer.post(
        path,
        data={"csrf_token": csrf_of(form.text), "name": "Neu", "password": PASSWORD},
        follow_redirects=False,
    )
    assert done.status_code == 303


def test_without_mail_an_admin_resets_a_members_password_and_passes_the_link_on(people: People, api) -> None:  # type: ignore[no-untyped-def]
    member_id = _user_id(api.db_url, "member@verein-a.org")
    page = people.admin_a.get("/team").text
    response = people.admin_a.post(f"/team/{member_id}/password-reset", data={"csrf_token": csrf_of(page)})
    assert response.status_code == 200
    assert "No e-mail was sent: the lab has no mail server set up" in response.text
    link = _shown_link(response.text)
    assert "/password-reset/" in link
    stranger = TestClient(api.client.app)
    assert stranger.get(link.removeprefix("http://127.0.0.1:8000")).status_code == 200


def test_another_associations_admin_cannot_reset_a_members_password(people: People, api) -> None:  # type: ignore[no-untyped-def]
    member_id = _user_id(api.db_url, "member@verein-a.org")
    page = people.admin_b.get("/team").text
    response = people.admin_b.post(f"/team/{member_id}/password-reset", data={"csrf_token": csrf_of(page)})
    assert response.status_code == 404
    assert "handed-link" not in response.text


def test_with_mail_the_reset_link_goes_to_the_person_and_is_not_shown(people: People, api) -> None:  # type: ignore[no-untyped-def]
    member_id = _user_id(api.db_url, "member@verein-a.org")
    app = api.client.app
    with smtp_sink() as sink:
        app.state.settings = app.state.settings.model_copy(
            update={"smtp_host": sink.host, "smtp_port": sink.port}
        )
        page = people.admin_a.get("/team").text
        response = people.admin_a.post(
            f"/team/{member_id}/password-reset", data={"csrf_token": csrf_of(page)}
        )
        assert "is on its way to the person" in response.text
        assert "handed-link" not in response.text
        (message,) = sink.wait_for(1)
    assert message["To"] == "member@verein-a.org"
    assert "/password-reset/" in plain_text(message)


def test_the_reset_request_page_says_plainly_when_the_lab_sends_no_mail(api) -> None:  # type: ignore[no-untyped-def]
    client = TestClient(api.client.app, headers={"Accept-Language": "en"})
    page = client.get("/password-reset").text
    assert "This lab sends no e-mail" in page
    assert 'action="/password-reset"' not in page, "no form for a link that could not be sent"
