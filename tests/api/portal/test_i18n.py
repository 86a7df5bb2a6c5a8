"""Both languages: every text of the portal has its German translation, and the language is chosen well."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from starlette.requests import Request

from api.portal.i18n import LOCALE_DIR, Texts, choose_language

ROOT = Path(__file__).parents[3]
METHODS = [("api/portal/**.py", "python"), ("api/portal/templates/**.html", "jinja2")]
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def _source_messages() -> set[str]:
    found = extract_from_dir(
        ROOT / "api" / "portal",
        method_map=[(p.removeprefix("api/portal/"), m) for p, m in METHODS],
        keywords={"_": None},
    )
    return {message for _file, _line, message, _comments, _context in found if isinstance(message, str)}


def test_every_text_of_the_portal_has_a_german_translation() -> None:
    with (LOCALE_DIR / "de" / "LC_MESSAGES" / "portal.po").open("rb") as source:
        catalog = read_po(source)
    translated = {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}
    wanted = _source_messages()
    assert len(wanted) > 100, "the extraction found the portal's texts"
    missing = sorted(wanted - set(translated))
    assert missing == [], "run pybabel extract/update (see babel.cfg) and translate these"
    for message in wanted:
        assert sorted(PLACEHOLDER.findall(translated[message])) == sorted(PLACEHOLDER.findall(message)), (
            message
        )


def test_catalogues_compile_from_the_po_files_without_a_build_step() -> None:
    assert not list(LOCALE_DIR.rglob("*.mo")), "no compiled catalogue is committed or needed"
    assert Texts("de").gettext("Sign in") == "Anmelden"
    assert Texts("en").gettext("Sign in") == "Sign in"
    assert Texts("de").gettext("Remove %(name)s", name="<b>") == "<b> entfernen"


def _request(headers: dict[str, str]) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "headers": raw, "method": "GET", "path": "/"})


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, "de"),
        ({"Accept-Language": "en-GB,en;q=0.9"}, "en"),
        ({"Accept-Language": "fr-FR, en;q=0.5, de;q=0.8"}, "de"),
        ({"Accept-Language": "fr, es"}, "de"),
        ({"Accept-Language": "de;q=0, en"}, "en"),
        ({"Accept-Language": "en", "Cookie": "provisioner_lang=de"}, "de"),
        ({"Accept-Language": "de", "Cookie": "provisioner_lang=xx"}, "de"),
    ],
)
def test_language_from_the_cookie_then_accept_language(headers: dict[str, str], expected: str) -> None:
    assert choose_language(_request(headers)) == expected


def test_numbers_are_written_as_each_language_writes_them() -> None:
    assert Texts("de").number(0.25) == "0,25"
    assert Texts("en").number(0.25) == "0.25"
    assert Texts("de").number(1234.56, 1) == "1.234,6"
    assert Texts("de").number(0.0012) == "0,0012"
