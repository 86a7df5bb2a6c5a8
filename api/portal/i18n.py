"""German and English for the portal: the language from a cookie or Accept-Language, texts from gettext.

The catalogues ship as ``.po`` files and are compiled in memory when first used, so a fresh install (an
editable one or a wheel) needs no build step for them.
"""

from __future__ import annotations

import gettext
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from babel import Locale
from babel.dates import format_skeleton, format_time
from babel.numbers import format_decimal
from starlette.requests import Request

from provisioner.i18n import DEFAULT_LANGUAGE, LANGUAGES, compiled_translations

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "Texts", "choose_language", "translations"]

LANGUAGE_COOKIE = "provisioner_lang"
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "portal"


def N_(message: str) -> str:  # gettext's name for a text marked here and translated where it is shown
    return message


def translations(language: str) -> gettext.NullTranslations:
    return compiled_translations(LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po", language)


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

    def __init__(self, language: str, zone: tzinfo = UTC) -> None:
        self.language = language
        self.zone = zone  # the lab's: times are written as its clocks show them
        self._locale = Locale.parse(language)  # parsed once: a chart's table formats a hundred values
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
                locale=self._locale,
            )
        return format_decimal(value, format="#,##0.######", locale=self._locale)

    def ngettext(self, singular: str, plural: str, count: int, **values: object) -> str:
        text = self._translations.ngettext(singular, plural, count)
        return text % {"num": count, **values}

    def moment(self, at: datetime, *, year: bool = True) -> str:
        """A date and time as the language writes them (3. Dez. 2026, 14:05 CET), in the lab's time zone."""
        local = at.astimezone(self.zone)
        date = format_skeleton("yMMMd" if year else "MMMd", local, locale=self._locale)
        time = format_time(local, "short", locale=self._locale)
        joined = self._locale.datetime_formats["medium"].format(time, date)
        return f"{joined} {local.tzname()}"

    def day(self, at: datetime) -> str:
        """Day and month as the language writes them (3. Dez.)."""
        return format_skeleton("MMMd", at.astimezone(self.zone), locale=self._locale)
