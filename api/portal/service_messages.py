"""What the services say (refusals, job errors, alerts) on the portal's pages, in the viewer's language;
a message the portal does not know is shown as it came, marked as English for screen readers."""

from __future__ import annotations

from markupsafe import Markup, escape

from api.portal.i18n import Texts
from provisioner.messages import reworded


def said(texts: Texts, message: str | None) -> Markup:
    if not message:
        return Markup("")
    foreign = escape if texts.language == "en" else Markup('<span lang="en">{}</span>').format
    return reworded(message, texts.gettext, known=escape, foreign=foreign)
