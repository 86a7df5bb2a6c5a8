"""Every notice's words have a German translation, and the HTML part is the text's paragraphs, escaped."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from provisioner.models import Offboarding
from provisioner.notices.certificate import asked_values, certificate_values
from provisioner.notices.outbox import NoticeKind
from provisioner.notices.render import TEMPLATES, catalogue_path, render
from provisioner.timeutil import utcnow

ROOT = Path(__file__).parents[3]


def _marked() -> set[str]:
    found = extract_from_dir(
        str(TEMPLATES),
        method_map=[("**.txt", "jinja2")],
        options_map={"**.txt": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}},
    )
    return {message if isinstance(message, str) else message[0] for _file, _line, message, _c, _x in found}


def test_every_text_of_every_notice_has_its_german_translation() -> None:
    with catalogue_path("de").open("rb") as source:
        catalog = read_po(source, locale="de")
    untranslated = sorted(m for m in _marked() if not (catalog.get(m) and catalog.get(m).string))
    assert untranslated == [], "run the pybabel commands at the top of babel-notices.cfg and translate"
    assert (ROOT / "babel-notices.cfg").is_file()


@pytest.mark.parametrize("kind", list(NoticeKind))
def test_each_kind_renders_in_both_languages_with_one_line_subjects(kind: NoticeKind) -> None:
    values = {
        "instance": "Akten", "service": "Ablage", "tenant": "Verein e.V.", "link": "https://portal.example/x",
        "reason": "Kein Platz", "url": "https://akten.example", "first_steps": ["Eins."], "version": "2",
        "kind": "update", "status": "failed", "error": "boom", "server": "s1", "address": "192.0.2.1",
    }  # fmt: skip
    if kind is NoticeKind.DELETION_RECORD:
        values = certificate_values(
            Offboarding(id="off_1", tenant_name="Verein e.V.", tenant_slug="verein", deleted={},
                        requested_at=utcnow(), completed_at=utcnow())
        )  # fmt: skip
    if kind is NoticeKind.OFFBOARDING_ASKED:
        asked = Offboarding(tenant_name="Verein e.V.", tenant_slug="verein", not_before=utcnow())
        values = asked_values(asked) | {"link": "https://portal.example/x"}
    german = render(kind.value, language="de", values=values)
    english = render(kind.value, language="en", values=values)
    assert german.subject != english.subject
    assert "\n" not in german.subject
    # A declined request and a deletion record point nowhere: there is nothing left to look at.
    linkless = (NoticeKind.REQUEST_REJECTED, NoticeKind.DELETION_RECORD)
    assert "https://portal.example/x" in german.text or kind in linkless
    assert '<html lang="de">' in german.html


def test_names_are_escaped_in_the_html_part_and_addresses_become_links() -> None:
    rendered = render(
        "request_rejected",
        language="en",
        values={"instance": "<script>x</script>", "service": "S", "reason": "see https://lab.example/faq."},
    )
    assert "<script>" in rendered.text  # plain text stays as typed
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    assert '<a href="https://lab.example/faq">https://lab.example/faq</a>.' in rendered.html


def test_an_unknown_language_falls_back_to_the_labs_default() -> None:
    rendered = render("test", language="fr", values={"lab_url": "https://portal.example/"})
    assert rendered.subject == "Testnachricht vom Provisioner"


def test_a_job_error_the_services_wrote_reads_in_the_recipients_language_and_unknown_ones_as_written() -> (
    None
):
    values = {
        "kind": "backup",
        "status": "failed",
        "instance": "blog",
        "tenant": "Verein",
        "link": "https://lab/",
    }
    known = render("job_failed", language="de", values=values | {"error": "canceled before it started"})
    assert "Abgebrochen, bevor es begann." in known.text
    assert "canceled before it started" not in known.text
    english = render("job_failed", language="en", values=values | {"error": "canceled before it started"})
    assert "Canceled before it started." in english.text
    unknown = render("job_failed", language="de", values=values | {"error": "TASK [x] <failed>"})
    assert "TASK [x] <failed>" in unknown.text
    assert "TASK [x] &lt;failed&gt;" in unknown.html
