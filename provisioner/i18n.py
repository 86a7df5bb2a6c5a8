"""German and English: the languages people are written to in, and gettext catalogues read from ``.po`` files.

Catalogues ship as ``.po`` files and are compiled in memory when first used, so an install (editable or a
wheel) needs no build step for them. English is the source language and needs no catalogue.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("de", "en")
DEFAULT_LANGUAGE = "de"  # the lab's associations are mostly German-speaking


def known_language(language: str | None) -> str | None:
    """The language when it is one we write in, else None (the caller falls back)."""
    return language if language in LANGUAGES else None


@cache
def compiled_translations(po: Path, language: str) -> gettext.NullTranslations:
    if not po.is_file():
        return gettext.NullTranslations()
    with po.open("rb") as source:
        catalog = read_po(source, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)
