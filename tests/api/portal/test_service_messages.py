"""The services' English refusals and job errors, as the portal shows them: known ones in the viewer's
language (with their own parts and the reasons they quote), anything else as it came, marked English."""

from __future__ import annotations

import pytest

from api.portal.i18n import Texts
from api.portal.service_messages import said
from provisioner.backups.service import _deployed
from provisioner.errors import Conflict
from provisioner.health.sweep import _why
from provisioner.messages import KNOWN
from provisioner.models import Instance
from provisioner.runner.adapter import _fallback_error

GERMAN, ENGLISH = Texts("de"), Texts("en")


def test_a_known_refusal_reads_german_with_its_state_in_german_words() -> None:
    message = "the instance is backing_up; only deployed instances can be moved"
    assert str(said(GERMAN, message)) == (
        "Der Zustand des Dienstes ist „wird gesichert“: Nur ein eingerichteter Dienst kann verschoben werden."
    )
    assert str(said(ENGLISH, message)) == (
        "The service&#39;s state is “backing up”: only a service that is set up can be moved."
    )


def test_a_reason_inside_a_message_is_translated_too_or_marked_english() -> None:
    nested = "nothing done: the instance is failed; only deployed instances can be updated"
    assert str(said(GERMAN, nested)).startswith(
        "Es wurde nichts getan: Der Zustand des Dienstes ist „fehlgeschlagen“"
    )
    alert = "server s1 is unreachable: ssh: connect to host 192.0.2.1 port 22: <refused>"
    assert str(said(GERMAN, alert)) == (
        "Server s1 ist nicht erreichbar: "
        '<span lang="en">ssh: connect to host 192.0.2.1 port 22: &lt;refused&gt;</span>'
    )


def test_an_unknown_message_is_shown_as_it_came_escaped_and_marked_english_on_german_pages() -> None:
    assert str(said(GERMAN, "TASK [x] failed: <b>")) == '<span lang="en">TASK [x] failed: &lt;b&gt;</span>'
    assert str(said(ENGLISH, "TASK [x] failed: <b>")) == "TASK [x] failed: &lt;b&gt;"
    assert str(said(GERMAN, None)) == ""


def test_every_known_message_has_its_german_translation() -> None:
    for _pattern, message in KNOWN:
        assert GERMAN.gettext(message) != message, message


@pytest.mark.parametrize(
    "written",
    [
        _fallback_error("timeout", 254, ""),
        _fallback_error("canceled", None, ""),
        _why("timeout"),
    ],
)
def test_the_core_writes_these_messages_as_the_portal_knows_them(written: str) -> None:
    assert "lang=" not in str(said(GERMAN, written)), written


def test_the_core_refuses_a_backup_of_an_instance_not_deployed_as_the_portal_knows_it() -> None:
    with pytest.raises(Conflict) as refused:
        _deployed(Instance(state="requested"), "a backup")
    assert "lang=" not in str(said(GERMAN, refused.value.detail))


@pytest.mark.parametrize(
    ("written", "german"),
    [
        (
            "this association already has an instance called 'site'",
            "Ihr Verein hat schon einen Dienst namens site.",
        ),
        ("site.lab.example is taken; choose another", "site.lab.example ist schon vergeben."),
        (
            "Verein A e.V. would go beyond its quota with this homepage — instances: 3 in use, 1 more asked, "
            "quota 3. Remove an instance, or ask the lab's operators to raise the quota.",
            "Verein A e.V. würde mit diesem homepage sein Kontingent überschreiten "
            "(Dienste: 3 belegt, 1 zusätzlich angefragt, das Kontingent ist 3). Entfernen Sie einen Dienst "
            "oder bitten Sie das Lab, das Kontingent zu erhöhen.",
        ),
        (
            "Verein A e.V. would go beyond its quota with this nextcloud — memory: 900 MB in use, 256 MB "
            "more asked, quota 1024 MB; disk: 9 GB in use, 2 GB more asked, quota 10 GB. Remove an instance, "
            "or ask the lab's operators to raise the quota.",
            "Verein A e.V. würde mit diesem nextcloud sein Kontingent überschreiten (Arbeitsspeicher: 900 MB "
            "belegt, 256 MB zusätzlich angefragt, das Kontingent ist 1024 MB; außerdem Speicherplatz: 9 GB "
            "belegt, 2 GB zusätzlich angefragt, das Kontingent ist 10 GB). Entfernen Sie einen Dienst oder "
            "bitten Sie das Lab, das Kontingent zu erhöhen.",
        ),
    ],
)
def test_refused_requests_read_german(written: str, german: str) -> None:
    assert str(said(GERMAN, written)) == german
