"""Renders a template's files. Tenant values are data to Jinja, never template source."""

from __future__ import annotations

import traceback
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, meta, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from provisioner.catalog.model import Template


class RenderError(Exception):
    """A file that does not render; the message is ``file:line: what``."""


def _environment(template: Template) -> SandboxedEnvironment:
    # Sandboxed and strict: an author's typo fails loudly; autoescape keeps tenant text inert in HTML.
    return SandboxedEnvironment(
        loader=FileSystemLoader(template.folder),
        undefined=StrictUndefined,
        autoescape=select_autoescape(["html", "htm", "xml", "html.j2", "xml.j2"]),
        keep_trailing_newline=True,
    )


def render_files(template: Template, *, context: dict[str, Any]) -> dict[str, str]:
    """Return target path -> rendered text for every file the template declares."""
    env = _environment(template)
    rendered = {}
    for item in template.files:
        path = template.folder / item.source
        try:
            rendered[item.target] = env.get_template(item.source).render(**context)
        except TemplateError as exc:
            raise RenderError(f"{path}:{_line(exc, str(path))}: {exc.message or exc}") from exc
    return rendered


def sensitive_targets(template: Template) -> set[str]:
    """Files that use a secret or the lab's mail account (its password): copied without logging and
    never shown in job events."""
    env = _environment(template)
    found = set()
    for item in template.files:
        source = (template.folder / item.source).read_text()
        if {"secrets", "mail"} & meta.find_undeclared_variables(env.parse(source)):
            found.add(item.target)
    return found


def _line(exc: TemplateError, filename: str) -> int | str:
    lineno = getattr(exc, "lineno", None)
    if isinstance(lineno, int):
        return lineno
    # Jinja rewrites tracebacks so a frame points at the template file and its line.
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == filename and frame.lineno:
            return frame.lineno
    return "?"
