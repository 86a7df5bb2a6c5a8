"""Notices rendered from Jinja2 templates in the recipient's language.

A template's first line is the subject, the rest the plain-text body in paragraphs. The HTML alternative is
the same paragraphs in one layout, so the two parts always say the same; addresses in it become links.
German comes from this package's catalogue (``locale/de/LC_MESSAGES/notices.po``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from provisioner.i18n import DEFAULT_LANGUAGE, compiled_translations, known_language
from provisioner.messages import reworded

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
CATALOG = "notices.po"
_LINK = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)]")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def catalogue_path(language: str) -> Path:
    return HERE / "locale" / language / "LC_MESSAGES" / CATALOG


@cache
def _environment(language: str) -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        keep_trailing_newline=True,
    )
    translations = compiled_translations(catalogue_path(language), language)
    environment.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    # A job's error or an alert's summary, as the services wrote it: in the recipient's words when known.
    environment.globals["said"] = lambda message: reworded(
        message, translations.gettext, known=str, foreign=str
    )
    return environment


def _linked(paragraph: str) -> Markup:
    """Escaped text with each web address made a link."""
    parts: list[Markup] = []
    last = 0
    for match in _LINK.finditer(paragraph):
        parts.append(escape(paragraph[last : match.start()]))
        address = escape(match.group(0))
        parts.append(Markup('<a href="{0}">{0}</a>').format(address))
        last = match.end()
    parts.append(escape(paragraph[last:]))
    return Markup("<br>\n").join(Markup("").join(parts).split("\n"))


def render(kind: str, *, language: str | None, values: dict[str, Any]) -> Rendered:
    language = known_language(language) or DEFAULT_LANGUAGE
    environment = _environment(language)
    rendered = environment.get_template(f"{kind}.txt").render(values).strip("\n")
    subject, _, body = rendered.partition("\n")
    paragraphs = [p.strip("\n") for p in re.split(r"\n\s*\n", body.strip("\n")) if p.strip()]
    text = "\n\n".join(paragraphs) + "\n"
    html = environment.get_template("mail.html").render(
        language=language, subject=subject, paragraphs=[_linked(p) for p in paragraphs]
    )
    # Subjects stay on one line whatever an association named its service.
    return Rendered(subject=" ".join(subject.split())[:200], text=text, html=html)
