"""The portal's pages against a real database: sign-in, forms, CSRF, isolation, approval, credentials."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from provisioner.alerts.service import raise_alert
from provisioner.backups.repository import repository_for
from provisioner.backups.service import request_restore
from provisioner.db import session_factory
from provisioner.models import Backup, Instance
from provisioner.notices.delivery import deliver_due
from tests.support import factories
from tests.support.factories import CATALOG, admin_of
from tests.support.portal import PASSWORD, People, csrf_of, make_user, request_homepage, request_service
from tests.support.running import unused_backup_target
from tests.support.smtp_sink import plain_text, smtp_sink


def test_pages_ask_to_sign_in_first(api) -> None:  # type: ignore[no-untyped-def]
    response = api.client.get("/services", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/services"
    login = api.client.get("/login?next=//evil.example/")
    assert 'name="next" value="/"' in login.text, "another host is never a target after sign-in"


def test_a_wrong_password_reads_the_same_as_an_unknown_address(api) -> None:  # type: ignore[no-untyped-def]
    make_user(api.db_url, email="kim@verein.org", role="operator", tenant_id=None)
    answers = []
    for email in ("kim@verein.org", "nobody@verein.org"):
        token = csrf_of(api.client.get("/login", headers={"Accept-Language": "de"}).text)
        response = api.client.post(
            "/login",
            data={"email": email, "password": "wrong password here", "csrf_token": token},
            headers={"Accept-Language": "de"},
        )
        assert response.status_code == 401
        answers.append(re.sub(r'value="[^"]*"', "", response.text))
    assert answers[0] == answers[1]
    assert "Die E-Mail-Adresse oder das Passwort ist falsch." in answers[0]
    assert 'aria-describedby="login-error"' in answers[0]


def test_sign_in_without_the_form_token_is_refused(api) -> None:  # type: ignore[no-untyped-def]
    make_user(api.db_url, email="kim@verein.org", role="operator", tenant_id=None)
    response = api.client.post("/login", data={"email": "kim@verein.org", "password": PASSWORD})
    assert response.status_code == 403
    assert "provisioner_session" not in response.cookies


def test_headers_forbid_inline_code_and_framing(people: People) -> None:
    response = people.admin_a.get("/services")
    policy = response.headers["content-security-policy"]
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert "<script>" not in response.text
    assert "style=" not in response.text
    assert "content-security-policy" not in people.admin_a.get("/api/v1/catalog").headers


def test_the_request_form_is_made_from_the_schema(people: People) -> None:
    page = people.admin_a.get("/catalog/homepage/request").text
    assert re.search(
        r'<input id="field-param-title" name="param-title" type="text" value="" required[^>]*maxlength="120"',
        page,
    )
    assert '<label for="field-param-title">' in page
    assert '<select id="field-param-language" name="param-language">' in page
    assert '<option value="de" selected>Deutsch</option>' in page


def test_errors_are_tied_to_their_fields(people: People, api) -> None:  # type: ignore[no-untyped-def]
    form = people.admin_a.get("/catalog/homepage/request").text
    data = {"csrf_token": csrf_of(form), "name": "Not A Name", "param-title": "", "param-language": "xx"}
    response = people.admin_a.post("/catalog/homepage/request", data=data)
    assert response.status_code == 422
    page = response.text
    for field in ("field-name", "field-param-title", "field-param-language"):
        tag = re.search(rf'<(?:input|select) id="{field}"[^>]*>', page)
        assert tag, field
        assert 'aria-invalid="true"' in tag.group(0), field
        assert f"{field}-error" in tag.group(0), "the message is tied to the field"
        assert f'id="{field}-error"' in page
    assert 'value="Not A Name"' in page, "what was typed stays in the form"
    with session_factory(api.db_url)() as session:
        assert session.query(Instance).count() == 0


def test_a_form_without_its_csrf_token_is_refused(people: People, api) -> None:  # type: ignore[no-untyped-def]
    data = {"name": "site", "param-title": "T", "param-language": "de"}
    response = people.admin_a.post("/catalog/homepage/request", data=data)
    assert response.status_code == 403
    response = people.admin_a.post("/catalog/homepage/request", data={**data, "csrf_token": "forged"})
    assert response.status_code == 403
    with session_factory(api.db_url)() as session:
        assert session.query(Instance).count() == 0


def test_tenant_strings_stay_inert(people: People) -> None:
    # Rendered, the expression would give "zqxj"; a number such as 7*7 could turn up in any random id.
    title = "<script>alert(1)</script>{{ 'zq' ~ 'xj' }}"
    instance_id = request_homepage(people.admin_a, name="site", title=title)
    operator_page = people.operator.get("/operator/requests").text
    assert "<script>alert(1)" not in operator_page
    page = people.admin_a.get(f"/services/{instance_id}").text
    assert "zqxj" not in page
    assert "zqxj" not in operator_page


def test_another_association_sees_nothing(people: People) -> None:
    instance_id = request_homepage(people.admin_a)
    theirs = people.admin_b.get(f"/services/{instance_id}")
    missing = people.admin_b.get("/services/ins_doesnotexist")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.text.replace(instance_id, "ins_doesnotexist") == missing.text
    assert instance_id not in people.admin_b.get("/services").text
    token = csrf_of(people.admin_b.get("/services").text)
    removal = people.admin_b.post(
        f"/services/{instance_id}/remove", data={"csrf_token": token, "confirm_name": "site"}
    )
    assert removal.status_code == 404


def test_members_look_but_do_not_change(people: People) -> None:
    instance_id = request_homepage(people.admin_a)
    assert people.member_a.get(f"/services/{instance_id}").status_code == 200
    assert "/catalog/homepage/request" not in people.member_a.get("/catalog").text
    token = csrf_of(people.member_a.get("/services").text)
    removal = people.member_a.post(
        f"/services/{instance_id}/remove", data={"csrf_token": token, "confirm_name": "site"}
    )
    assert removal.status_code == 403


def test_operator_approves_then_the_admin_sees_credentials_once(people: People, api) -> None:  # type: ignore[no-untyped-def]
    server_id = api.server()
    instance_id = request_service(people.admin_a, "nextcloud", {"name": "cloud", "param-language": "de"})
    waiting = people.admin_a.get(f"/services/{instance_id}").text
    assert "Available once the lab has approved" in waiting
    assert "First steps" not in waiting
    queue = people.operator.get("/operator/requests").text
    assert f"/operator/requests/{instance_id}/approve" in queue
    assert people.admin_a.get("/operator/requests").status_code == 403
    response = people.operator.post(
        f"/operator/requests/{instance_id}/approve",
        data={"csrf_token": csrf_of(queue), "server": server_id},
        follow_redirects=False,
    )
    assert response.status_code == 303
    job_id = response.headers["location"].rsplit("/", 1)[1]
    assert api.dispatcher.sent == [job_id]
    job_page = people.admin_a.get(f"/jobs/{job_id}").text
    assert 'aria-live="polite"' in job_page
    assert '<noscript><meta http-equiv="refresh"' in job_page
    assert '<script src="/static/job-progress.js" defer></script>' in job_page

    page = people.admin_a.get(f"/services/{instance_id}").text
    # The template's first steps, in the viewer's language, once the service is approved.
    assert '<h2 id="first-steps-heading">First steps</h2>' in page
    assert "Under &#34;Accounts&#34;, create one account per member" in page
    german = people.admin_a.get(f"/services/{instance_id}", headers={"Accept-Language": "de"}).text
    assert "Erste Schritte" in german
    assert "ein Konto je Mitglied" in german
    shown = people.admin_a.post(f"/services/{instance_id}/credentials", data={"csrf_token": csrf_of(page)})
    assert shown.status_code == 200, shown.text
    assert "<code>" in shown.text, shown.text
    # The template says which account the password is for (secrets.admin_password.user).
    assert "<dt>User name</dt><dd><code>admin</code></dd><dt>Password</dt>" in shown.text
    assert shown.headers["cache-control"] == "no-store"
    assert "shown only this once" in shown.text
    again = people.admin_a.post(f"/services/{instance_id}/credentials", data={"csrf_token": csrf_of(page)})
    assert "was shown already" in again.text
    assert "<code>" not in again.text


def test_a_password_for_an_account_named_by_a_parameter_shows_that_value(people: People, api) -> None:  # type: ignore[no-untyped-def]
    # Discourse's first admin signs in with the e-mail address the association gave (user_param).
    server_id = api.server()
    fields = {"name": "forum", "param-admin_email": "vorstand@verein.example", "param-language": "de"}
    instance_id = request_service(people.admin_a, "discourse", fields)
    queue = people.operator.get("/operator/requests").text
    approved = people.operator.post(
        f"/operator/requests/{instance_id}/approve",
        data={"csrf_token": csrf_of(queue), "server": server_id},
        follow_redirects=False,
    )
    assert approved.status_code == 303
    page = people.admin_a.get(f"/services/{instance_id}").text
    shown = people.admin_a.post(f"/services/{instance_id}/credentials", data={"csrf_token": csrf_of(page)})
    assert "<dt>User name</dt><dd><code>vorstand@verein.example</code></dd><dt>Password</dt>" in shown.text


def test_a_rejection_is_mailed_to_the_associations_admins_by_the_worker(people: People, api) -> None:  # type: ignore[no-untyped-def]
    instance_id = request_homepage(people.admin_a)
    app = api.client.app
    with smtp_sink() as sink:
        app.state.settings = app.state.settings.model_copy(
            update={"smtp_host": sink.host, "smtp_port": sink.port}
        )
        queue = people.operator.get("/operator/requests").text
        response = people.operator.post(
            f"/operator/requests/{instance_id}/reject",
            data={"csrf_token": csrf_of(queue), "reason": "Bitte fragen Sie zuerst nach Speicherplatz."},
        )
        assert response.status_code == 200
        assert "admins get an e-mail with the reason" in response.text
        assert sink.messages == [], "sent by a worker, not inside the request"
        deliver_due(app.state.settings, factories.CATALOG)  # the worker's round
        # The operator heard of the request when it came; the association's admin of its rejection.
        (message,) = [m for m in sink.wait_for(2) if m["To"] == "admin@verein-a.org"]
    assert message["Subject"] == "Request declined: site", "the language the admin signed in with"
    body = message.get_body(("plain",))
    assert body is not None
    assert "Bitte fragen Sie zuerst nach Speicherplatz." in body.get_content()
    assert "declined" in people.admin_a.get(f"/services/{instance_id}").text


def test_removal_asks_for_the_name_first(people: People, api) -> None:  # type: ignore[no-untyped-def]
    instance_id = request_homepage(people.admin_a)
    page = people.admin_a.get(f"/services/{instance_id}/remove").text
    assert "Keep a copy first" in page
    wrong = people.admin_a.post(
        f"/services/{instance_id}/remove", data={"csrf_token": csrf_of(page), "confirm_name": "nope"}
    )
    assert wrong.status_code == 422
    assert api.dispatcher.sent == []
    right = people.admin_a.post(
        f"/services/{instance_id}/remove",
        data={"csrf_token": csrf_of(page), "confirm_name": "site"},
        follow_redirects=False,
    )
    assert right.status_code == 303
    assert len(api.dispatcher.sent) == 1


def test_the_language_follows_the_browser_and_the_switch(people: People) -> None:
    client = people.admin_a
    assert '<html lang="en">' in client.get("/services").text
    german = client.get("/services", headers={"Accept-Language": "de-DE,de;q=0.9"}).text
    assert '<html lang="de">' in german
    assert "Meine Dienste" in german
    client.post("/language", data={"language": "de", "next": "/services"})
    assert "Meine Dienste" in client.get("/services").text


def test_operator_filters_instances(people: People) -> None:
    request_homepage(people.admin_a, name="one")
    page = people.operator.get("/operator/instances?state=requested&tenant=" + people.tenant_a).text
    assert ">one<" in page
    assert "<td>Association homepage</td>" in page, "the service's title, not the template's name"
    assert ">one<" not in people.operator.get("/operator/instances?state=running").text
    assert people.operator.get("/operator/servers").status_code == 200
    assert people.operator.get("/operator/jobs?status=").status_code == 200


def test_an_admin_invites_someone_who_then_signs_up_through_the_link(people: People, api) -> None:  # type: ignore[no-untyped-def]
    app = api.client.app
    with smtp_sink() as sink:
        app.state.settings = app.state.settings.model_copy(
            update={"smtp_host": sink.host, "smtp_port": sink.port}
        )
        page = people.admin_a.get("/team").text
        assert "member@verein-a.org" in page
        response = people.admin_a.post(
            "/team/invite",
            data={
                "csrf_token": csrf_of(page),
                "tenant": people.tenant_b,
                "email": "Neu@Verein-A.org",
                "role": "member",
            },
        )
        assert response.status_code == 200
        assert "The invitation is on its way" in response.text
        (message,) = sink.wait_for(1)
    link = re.search(r"/invitations/(\S+)", plain_text(message))
    assert link
    newcomer = TestClient(app, headers={"Accept-Language": "de"})
    form = newcomer.get(f"/invitations/{link.group(1)}")
    assert "neu@verein-a.org" in form.text
    weak = newcomer.post(
        f"/invitations/{link.group(1)}",
        data={"csrf_token": csrf_of(form.text), "name": "Neu", "password": "short"},
    )
    assert weak.status_code == 422
    assert 'aria-describedby="password-hint password-error"' in weak.text
    done = newcomer.post(
        f"/invitations/{link.group(1)}",
        data={"csrf_token": csrf_of(weak.text), "name": "Neu", "password": PASSWORD},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert "Meine Dienste" in newcomer.get("/services").text
    assert newcomer.get(f"/invitations/{link.group(1)}").status_code == 404, "the link works once"
    team = people.admin_a.get("/team").text
    assert "neu@verein-a.org" in team, "a tenant field of another association is ignored for admins"
    assert "neu@verein-a.org" not in people.admin_b.get("/team").text


def test_roles_change_but_the_last_admin_stays(people: People, api) -> None:  # type: ignore[no-untyped-def]
    page = people.admin_a.get("/team").text
    ids = dict(re.findall(r'action="/team/(usr_\w+)/role".*?<option value="(\w+)" selected', page, re.S))
    admin_id = next(user for user, role in ids.items() if role == "admin")
    member_id = next(user for user, role in ids.items() if role == "member")
    demote_self = people.admin_a.post(
        f"/team/{admin_id}/role", data={"csrf_token": csrf_of(page), "role": "member"}
    )
    assert "at least one admin" in demote_self.text
    promote = people.admin_a.post(
        f"/team/{member_id}/role", data={"csrf_token": csrf_of(page), "role": "admin"}
    )
    assert "The role was changed." in promote.text
    assert people.member_a.get("/catalog/homepage/request").status_code == 200
    assert (
        people.admin_b.post(
            f"/team/{member_id}/remove", data={"csrf_token": csrf_of(people.admin_b.get("/team").text)}
        ).status_code
        == 404
    )
    removed = people.admin_a.post(f"/team/{member_id}/remove", data={"csrf_token": csrf_of(page)})
    assert "was removed" in removed.text
    assert people.member_a.get("/services", follow_redirects=False).status_code == 303, "their sessions ended"


def test_field_labels_come_in_the_page_language(people: People) -> None:
    german = people.admin_a.get("/catalog/homepage/request", headers={"Accept-Language": "de"}).text
    assert '<label for="field-param-title">Name, der auf der Seite steht' in german
    english = people.admin_a.get("/catalog/homepage/request").text
    assert '<label for="field-param-title">Name shown on the page' in english


def test_operators_see_alerts(people: People, api) -> None:  # type: ignore[no-untyped-def]
    instance_id = request_homepage(people.admin_a)
    with session_factory(api.db_url)() as session:
        raise_alert(
            session,
            api.client.app.state.settings,
            kind="instance_unhealthy",
            subject_id=instance_id,
            tenant_id=None,
            summary="site does not answer <b>",
        )
        session.commit()
    page = people.operator.get("/operator/alerts").text
    assert "site does not answer &lt;b&gt;" in page
    assert "site does not answer" not in people.operator.get("/operator/alerts?status=resolved").text
    assert people.admin_a.get("/operator/alerts").status_code == 403


def test_a_copy_that_keeps_the_originals_logins_says_so_instead_of_showing_a_password(  # type: ignore[no-untyped-def]
    people: People, api
) -> None:
    # Nextcloud cannot be given a new admin password from outside (no reset steps): its copy keeps
    # the original's accounts, and the page says whose, rather than a password its data may not know.
    server_id = api.server()
    instance_id = request_service(people.admin_a, "nextcloud", {"name": "cloud", "param-language": "de"})
    queue = people.operator.get("/operator/requests").text
    people.operator.post(
        f"/operator/requests/{instance_id}/approve",
        data={"csrf_token": csrf_of(queue), "server": server_id},
        follow_redirects=False,
    )
    settings = api.client.app.state.settings
    with session_factory(api.db_url)() as session:
        cloud = session.get_one(Instance, instance_id)
        unused_backup_target(session, settings)
        repository = repository_for(session, settings, tenant_id=cloud.tenant_id)
        backup = Backup(instance_id=cloud.id, repository_id=repository.id, status="succeeded", version="34")
        session.add(backup)
        session.flush()
        copy = request_restore(
            session, actor=admin_of(cloud.tenant), catalog=CATALOG, instance_id=cloud.id,
            backup_id=backup.id, into="new", name="cloud-copy", settings=settings,
        ).instance  # fmt: skip
        session.commit()
        copy_id = copy.id
    page = people.admin_a.get(f"/services/{copy_id}").text
    assert "This service is a copy of cloud, made from its backup of" in page
    assert "sign in with those" in page
    assert f'action="/services/{copy_id}/credentials"' not in page
    german = people.admin_a.get(f"/services/{copy_id}", headers={"Accept-Language": "de"}).text
    assert "Dieser Dienst ist eine Kopie von cloud" in german
