"""Spaces in the portal: the operator offers a service shared, an association asks for a space from the
catalog and sees it beside its services, the operator approves it, its admin sees the first admin once;
another association never reaches it."""

from __future__ import annotations

from markupsafe import escape
from sqlalchemy import select

from provisioner.db import session_factory
from provisioner.models import Export, Job, Space
from tests.support.exports import sealed_ready
from tests.support.factories import CATALOG, HOST_KEY
from tests.support.portal import People, csrf_of

GERMAN = {"Accept-Language": "de"}


def _offer_shared(people: People) -> None:
    page = people.operator.get("/operator/spaces")
    assert page.status_code == 200
    saved = people.operator.post(
        "/operator/spaces/modes/wordpress",
        data={"csrf_token": csrf_of(page.text), "mode-dedicated": "on", "mode-shared": "on"},
        follow_redirects=False,
    )
    assert saved.headers["location"] == "/operator/spaces?notice=modes"


def _ask_for_space(people: People) -> str:
    form = people.admin_a.get("/catalog/wordpress/space")
    sent = people.admin_a.post(
        "/catalog/wordpress/space",
        data={"csrf_token": csrf_of(form.text), "name": "web"},
        follow_redirects=False,
    )
    assert sent.status_code == 303, sent.text
    return str(sent.headers["location"]).rsplit("/", 1)[1]


def test_an_association_asks_for_a_space_the_operator_approves_and_its_admin_is_shown_once(
    people: People,
    api,  # type: ignore[no-untyped-def]
) -> None:
    api.server()
    assert "/catalog/wordpress/space" not in people.admin_a.get("/catalog").text
    _offer_shared(people)
    assert "/catalog/wordpress/space" in people.admin_a.get("/catalog").text
    space_id = _ask_for_space(people)
    assert f"/spaces/{space_id}" in people.admin_a.get("/services").text
    assert people.admin_b.get(f"/spaces/{space_id}").status_code == 404
    assert f"/spaces/{space_id}" not in people.admin_b.get("/services").text

    queue = people.operator.get("/operator/spaces").text
    assert f"/operator/spaces/{space_id}/approve" in queue
    approved = people.operator.post(
        f"/operator/spaces/{space_id}/approve",
        data={"csrf_token": csrf_of(queue), "storage_mb": "100"},
        follow_redirects=False,
    )
    assert approved.status_code == 303
    job_id = str(approved.headers["location"]).rsplit("/", 1)[1]
    assert api.dispatcher.sent == [job_id]

    page = people.admin_a.get(f"/spaces/{space_id}").text
    assert "100 MB" in page
    shown = people.admin_a.post(f"/spaces/{space_id}/credentials", data={"csrf_token": csrf_of(page)})
    assert shown.headers["cache-control"] == "no-store"
    assert "admin-web-verein-a" in shown.text
    again = people.admin_a.post(f"/spaces/{space_id}/credentials", data={"csrf_token": csrf_of(page)})
    assert "admin-web-verein-a" not in again.text
    assert "shown already" in again.text
    german = people.admin_a.get(f"/spaces/{space_id}", headers=GERMAN).text
    assert "Speicherplatz" in german
    assert "Einrichten des Bereichs" in german


def test_a_space_is_removed_only_with_its_name_typed(people: People, api) -> None:  # type: ignore[no-untyped-def]
    api.server()
    _offer_shared(people)
    space_id = _ask_for_space(people)
    page = people.admin_a.get(f"/spaces/{space_id}").text
    wrong = people.admin_a.post(
        f"/spaces/{space_id}/remove", data={"csrf_token": csrf_of(page), "confirm_name": "other"}
    )
    assert "The name does not match." in wrong.text
    removed = people.admin_a.post(
        f"/spaces/{space_id}/remove",
        data={"csrf_token": csrf_of(page), "confirm_name": "web"},
        follow_redirects=False,
    )
    assert removed.headers["location"] == "/services"  # not approved yet: withdrawn at once, no job
    assert f"/spaces/{space_id}" not in people.admin_a.get("/services").text


def test_declining_needs_a_reason(people: People) -> None:
    _offer_shared(people)
    space_id = _ask_for_space(people)
    queue = people.operator.get("/operator/spaces").text
    refused = people.operator.post(
        f"/operator/spaces/{space_id}/reject",
        data={"csrf_token": csrf_of(queue), "reason": " "},
        follow_redirects=False,
    )
    assert refused.headers["location"] == "/operator/spaces?notice=reason"
    declined = people.operator.post(
        f"/operator/spaces/{space_id}/reject",
        data={"csrf_token": csrf_of(queue), "reason": "ask for a dedicated one"},
        follow_redirects=False,
    )
    assert declined.status_code == 303
    assert "ask for a dedicated one" in people.admin_a.get(f"/spaces/{space_id}").text


def _running(api, space_id: str) -> None:  # type: ignore[no-untyped-def]
    """The space as its making job leaves it: running in its shared instance."""
    with session_factory(api.db_url)() as session:
        space = session.get_one(Space, space_id)
        space.state = "running"
        assert space.instance is not None
        space.instance.state = "running"
        session.commit()


def _running_space(people: People, api) -> str:  # type: ignore[no-untyped-def]
    """Association a's WordPress space, asked for in the portal, approved, and running."""
    api.server()
    _offer_shared(people)
    space_id = _ask_for_space(people)
    queue = people.operator.get("/operator/spaces").text
    people.operator.post(f"/operator/spaces/{space_id}/approve", data={"csrf_token": csrf_of(queue)})
    _running(api, space_id)
    return space_id


def _backup_target(api) -> None:  # type: ignore[no-untyped-def]
    api.client.post(
        "/api/v1/backup-targets",
        json={"name": "lab", "kind": "sftp", "path": "/srv", "address": "192.0.2.20", "user": "restic",
              "host_key": HOST_KEY},
        headers=api.operator,
    )  # fmt: skip


def test_a_space_is_backed_up_restored_and_moved_out_from_its_page(people: People, api) -> None:  # type: ignore[no-untyped-def]
    space_id = _running_space(people, api)
    page = people.admin_a.get(f"/spaces/{space_id}").text
    assert "own backup storage" in page
    assert "move-to-dedicated" not in page  # the operator's decision
    # No backup target yet: said on the page, nothing queued.
    refused = people.admin_a.post(f"/spaces/{space_id}/backups", data={"csrf_token": csrf_of(page)})
    assert "no backup target is configured" in refused.text
    _backup_target(api)
    backed_up = people.admin_a.post(
        f"/spaces/{space_id}/backups", data={"csrf_token": csrf_of(page)}, follow_redirects=False
    )
    assert backed_up.status_code == 303
    b_token = csrf_of(people.admin_b.get("/services").text)
    assert people.admin_b.post(f"/spaces/{space_id}/backups", data={"csrf_token": b_token}).status_code == 404
    unknown = people.admin_a.post(
        f"/spaces/{space_id}/restores", data={"csrf_token": csrf_of(page), "backup": "x"}
    )
    assert "a backup id from this space" in unknown.text
    german = people.admin_a.get(f"/spaces/{space_id}", headers=GERMAN).text
    assert "Diesen Bereich jetzt sichern" in german
    assert "Sicherung des Bereichs" in german  # the job's kind

    operator_page = people.operator.get(f"/spaces/{space_id}").text
    moved = people.operator.post(
        f"/spaces/{space_id}/move-to-dedicated",
        data={"csrf_token": csrf_of(operator_page), "subdomain": "web-own"},
        follow_redirects=False,
    )
    assert moved.status_code == 303
    assert moved.headers["location"].startswith("/jobs/")


def test_a_space_is_exported_beside_its_backup_and_downloaded_by_its_admins(people: People, api) -> None:  # type: ignore[no-untyped-def]
    space_id = _running_space(people, api)
    _backup_target(api)
    page = people.admin_a.get(f"/spaces/{space_id}").text
    button = str(escape("Export this space's data"))
    assert button in page
    german = people.admin_a.get(f"/spaces/{space_id}", headers=GERMAN).text
    assert "Die Daten dieses Bereichs exportieren" in german
    assert button not in people.member_a.get(f"/spaces/{space_id}").text
    b_token = csrf_of(people.admin_b.get("/services").text)
    assert people.admin_b.post(f"/spaces/{space_id}/exports", data={"csrf_token": b_token}).status_code == 404

    exported = people.admin_a.post(
        f"/spaces/{space_id}/exports", data={"csrf_token": csrf_of(page)}, follow_redirects=False
    )
    assert exported.status_code == 303
    job_id = exported.headers["location"].removeprefix("/jobs/")
    assert api.dispatcher.sent[-1] == job_id
    with session_factory(api.db_url)() as session:
        export = session.scalars(select(Export).where(Export.job_id == job_id)).one()
        assert (export.space_id, session.get_one(Job, job_id).kind) == (space_id, "space_export")
        export_id = export.id
    again = people.admin_a.post(f"/spaces/{space_id}/exports", data={"csrf_token": csrf_of(page)})
    assert "being made already" in again.text
    assert "Export des Bereichs" in people.admin_a.get(f"/spaces/{space_id}", headers=GERMAN).text  # its job

    plain = sealed_ready(people.admin_a.app.state.settings, api.db_url, export_id)  # type: ignore[attr-defined]
    link = f"/spaces/{space_id}/exports/{export_id}/archive"
    page = people.admin_a.get(f"/spaces/{space_id}").text
    assert link in page
    assert people.admin_a.get(link).content == plain
    assert link not in people.member_a.get(f"/spaces/{space_id}").text
    assert people.member_a.get(link).status_code == 403
    assert people.admin_b.get(link).status_code == 404


def test_a_name_in_use_is_refused_in_the_viewers_language(people: People) -> None:
    _offer_shared(people)
    _ask_for_space(people)
    form = people.admin_a.get("/catalog/wordpress/space", headers=GERMAN)
    again = people.admin_a.post(
        "/catalog/wordpress/space", data={"csrf_token": csrf_of(form.text), "name": "web"}, headers=GERMAN
    )
    assert again.status_code == 422
    # Its default address is the first space's: the refusal names it, in German as for a service.
    assert (
        "Bitte wählen Sie einen anderen Kurznamen. web-verein-a.localhost ist schon vergeben." in again.text
    )


def test_the_operator_reads_why_a_service_is_offered_dedicated_only(people: People, api) -> None:  # type: ignore[no-untyped-def]
    why = CATALOG.get("discourse").sharing.dedicated_only  # type: ignore[union-attr]
    assert why is not None
    page = people.operator.get("/operator/spaces", headers=GERMAN).text
    assert "Nur als eigener Dienst angeboten" in page
    assert str(escape(why.de)) in page
    shown = api.client.get("/api/v1/catalog/discourse", headers=api.operator).json()
    assert (shown["offered_modes"], shown["dedicated_only"]) == (["dedicated"], why.model_dump())
    assert api.client.get("/api/v1/catalog/wordpress", headers=api.operator).json()["dedicated_only"] is None


def test_a_name_the_service_would_refuse_is_refused_in_the_viewers_language(people: People) -> None:
    page = people.operator.get("/operator/spaces")
    people.operator.post(
        "/operator/spaces/modes/mattermost",
        data={"csrf_token": csrf_of(page.text), "mode-dedicated": "on", "mode-shared": "on"},
    )
    form = people.admin_a.get("/catalog/mattermost/space", headers=GERMAN)
    refused = people.admin_a.post(
        "/catalog/mattermost/space", data={"csrf_token": csrf_of(form.text), "name": "help"}, headers=GERMAN
    )
    assert refused.status_code == 422
    assert (
        "Bitte wählen Sie einen anderen Kurznamen. mattermost nimmt den Namen help-verein-a nicht an: "
        "Namen, die mit „help“ beginnen, sind dort reserviert." in refused.text
    )


def test_the_operator_changes_a_spaces_storage_limit_on_its_page(people: People, api) -> None:  # type: ignore[no-untyped-def]
    api.server()
    _offer_shared(people)
    space_id = _ask_for_space(people)
    queue = people.operator.get("/operator/spaces").text
    people.operator.post(
        f"/operator/spaces/{space_id}/approve", data={"csrf_token": csrf_of(queue), "storage_mb": "100"}
    )
    _running(api, space_id)
    assert "/quota" not in people.admin_a.get(f"/spaces/{space_id}").text  # the lab's decision
    page = people.operator.get(f"/spaces/{space_id}").text
    assert 'name="storage_mb"' in page
    assert 'name="members"' not in page  # WordPress limits no members
    token = csrf_of(page)
    assert people.admin_a.post(f"/spaces/{space_id}/quota", data={"csrf_token": token}).status_code == 403

    wrong = people.operator.post(f"/spaces/{space_id}/quota", data={"csrf_token": token, "storage_mb": "0"})
    assert wrong.status_code == 422
    assert 'id="quota-storage_mb-error"' in wrong.text
    assert 'value="0"' in wrong.text  # what was typed stays
    members = people.operator.post(
        f"/spaces/{space_id}/quota", data={"csrf_token": token, "members": "5"}, headers=GERMAN
    )
    assert members.status_code == 422
    assert "Dieser Dienst setzt diese Grenze nicht durch." in members.text  # WordPress limits no members
    sent_before = list(api.dispatcher.sent)

    changed = people.operator.post(
        f"/spaces/{space_id}/quota",
        data={"csrf_token": token, "storage_mb": "250"},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    job_id = str(changed.headers["location"]).rsplit("/", 1)[1]
    assert api.dispatcher.sent == [*sent_before, job_id]
    german = people.operator.get(f"/spaces/{space_id}", headers=GERMAN).text
    assert "Grenzen des Bereichs" in german  # the job's kind, in the space's history
    job_page = people.operator.get(f"/jobs/{job_id}", headers=GERMAN).text
    assert "Änderung der Grenzen des Bereichs" in job_page


def test_a_space_whose_data_cannot_be_separated_says_plainly_what_a_restore_would_do(
    people: People,
    api,  # type: ignore[no-untyped-def]
) -> None:
    """Mattermost's teams are saved only with the whole shared Mattermost (its template says so)."""
    restore = CATALOG.get("mattermost").sharing.shared.data.restore  # type: ignore[union-attr]
    assert restore is not None
    api.server()
    page = people.operator.get("/operator/spaces")
    people.operator.post(
        "/operator/spaces/modes/mattermost",
        data={"csrf_token": csrf_of(page.text), "mode-dedicated": "on", "mode-shared": "on"},
    )
    form = people.admin_a.get("/catalog/mattermost/space")
    sent = people.admin_a.post(
        "/catalog/mattermost/space",
        data={"csrf_token": csrf_of(form.text), "name": "chat"},
        follow_redirects=False,
    )
    assert sent.status_code == 303, sent.text
    space_id = str(sent.headers["location"]).rsplit("/", 1)[1]
    queue = people.operator.get("/operator/spaces").text
    people.operator.post(f"/operator/spaces/{space_id}/approve", data={"csrf_token": csrf_of(queue)})
    _running(api, space_id)

    for headers, said, language in (({}, restore.en, "en"), (GERMAN, restore.de, "de")):
        shown = people.admin_a.get(f"/spaces/{space_id}", headers=headers)
        assert shown.status_code == 200
        assert f'<html lang="{language}"' in shown.text
        assert str(escape(said)) in shown.text
        assert f"/spaces/{space_id}/backups" not in shown.text  # nothing offered that cannot be done
        assert f"/spaces/{space_id}/exports" not in shown.text
        operator_page = people.operator.get(f"/spaces/{space_id}", headers=headers).text
        assert str(escape(said)) in operator_page
        assert "move-to-dedicated" not in operator_page
        # Mattermost enforces no limit per team: there is nothing to change after approval.
        assert f"/spaces/{space_id}/quota" not in operator_page
    # A backup asked for all the same is refused, naming why, and nothing is queued.
    sent_before = list(api.dispatcher.sent)
    token = csrf_of(people.admin_a.get(f"/spaces/{space_id}").text)
    refused = people.admin_a.post(f"/spaces/{space_id}/backups", data={"csrf_token": token})
    assert "cannot take one space" in refused.text
    assert api.dispatcher.sent == sent_before


def test_a_shared_jitsis_admin_makes_a_moderator_link_shown_once_in_german(people: People, api) -> None:  # type: ignore[no-untyped-def]
    api.server()
    page = people.operator.get("/operator/spaces")
    people.operator.post(
        "/operator/spaces/modes/jitsi",
        data={"csrf_token": csrf_of(page.text), "mode-dedicated": "on", "mode-shared": "on"},
    )
    form = people.admin_a.get("/catalog/jitsi/space")
    sent = people.admin_a.post(
        "/catalog/jitsi/space",
        data={"csrf_token": csrf_of(form.text), "name": "meet"},
        follow_redirects=False,
    )
    space_id = str(sent.headers["location"]).rsplit("/", 1)[1]
    queue = people.operator.get("/operator/spaces").text
    people.operator.post(f"/operator/spaces/{space_id}/approve", data={"csrf_token": csrf_of(queue)})
    _running(api, space_id)

    shown = people.admin_a.get(f"/spaces/{space_id}", headers=GERMAN).text
    assert "Moderationslinks" in shown
    assert f"/spaces/{space_id}/credentials" not in shown  # no account to show
    token = csrf_of(shown)
    too_long = people.admin_a.post(
        f"/spaces/{space_id}/moderator-links", data={"csrf_token": token, "days": "90"}, headers=GERMAN
    )
    assert "Ein Moderationslink gilt höchstens 30 Tage." in too_long.text
    made = people.admin_a.post(
        f"/spaces/{space_id}/moderator-links", data={"csrf_token": token, "days": "3"}, headers=GERMAN
    )
    assert made.headers["cache-control"] == "no-store"
    tenant = space_id.replace("_", "")
    assert f"https://meet-verein-a.localhost/{tenant}/?jwt=" in made.text
    assert "?jwt=" not in people.admin_a.get(f"/spaces/{space_id}").text  # shown once, kept nowhere
    assert (
        people.admin_b.post(
            f"/spaces/{space_id}/moderator-links",
            data={"csrf_token": csrf_of(people.admin_b.get("/services").text)},
        ).status_code
        == 404
    )
