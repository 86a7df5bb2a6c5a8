"""German and English for the portal: the language from a cookie or Accept-Language, texts from gettext.

The catalogues ship as ``.po`` files and are compiled in memory when first used, so a fresh install (an
editable one or a wheel) needs no build step for them.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from starlette.requests import Request

LANGUAGES = ("de", "en")
DEFAULT_LANGUAGE = "de"  # the lab's associations are mostly German-speaking
LANGUAGE_COOKIE = "provisioner_lang"
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "portal"


def N_(message: str) -> str:  # gettext's name for a text marked here and translated where it is shown
    return message


@cache
def translations(language: str) -> gettext.NullTranslations:
    po = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.is_file():  # English is the source language: no catalogue needed
        return gettext.NullTranslations()
    with po.open("rb") as source:
        catalog = read_po(source, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def _from_accept_language(header: str) -> str | None:
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else None


def choose_language(request: Request) -> str:
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return _from_accept_language(request.headers.get("accept-language", "")) or DEFAULT_LANGUAGE


class Texts:
    """The gettext functions a page renders with, bound to one language."""

    def __init__(self, language: str) -> None:
        self.language = language
        self._translations = translations(language)

    def gettext(self, message: str, **values: object) -> str:
        text = self._translations.gettext(message)
        return text % values if values else text

    def pgettext(self, context: str, message: str) -> str:
        return self._translations.pgettext(context, message)

    def number(self, value: float, digits: int | None = None) -> str:
        """A number as the language writes it (0,25 in German); ``digits`` rounds to that many places."""
        if digits is not None:
            return format_decimal(
                round(value, digits),
                format=f"#,##0.{'0' * digits}" if digits else "#,##0",
                locale=self.language,
            )
        return format_decimal(value, format="#,##0.######", locale=self.language)

    def ngettext(self, singular: str, plural: str, count: int, **values: object) -> str:
        text = self._translations.ngettext(singular, plural, count)
        return text % {"num": count, **values}
