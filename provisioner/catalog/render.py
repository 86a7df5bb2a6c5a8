"""Renders a template's files. Tenant values are data to Jinja, never template source."""

from __future__ import annotations

from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from provisioner.catalog.model import Template


def render_files(template: Template, *, context: dict[str, Any]) -> dict[str, str]:
    """Return target path -> rendered text for every file the template declares."""
    # Sandboxed and strict: an author's typo fails loudly; autoescape keeps tenant text inert in HTML.
    env = SandboxedEnvironment(
        loader=FileSystemLoader(template.folder),
        undefined=StrictUndefined,
        autoescape=select_autoescape(["html", "htm", "xml", "html.j2", "xml.j2"]),
        keep_trailing_newline=True,
    )
    return {f.target: env.get_template(f.source).render(**context) for f in template.files}
