"""Image references: templates name upstream images; a lab may serve them from its own mirror."""

from __future__ import annotations


def _has_registry(first: str) -> bool:
    return "." in first or ":" in first or first == "localhost"


def resolve_image(reference: str, *, mirror: str | None) -> str:
    """Point ``reference`` at ``mirror`` (host[:port][/path]), keeping path, tag and digest."""
    if not mirror:
        return reference
    first, _, rest = reference.partition("/")
    path = rest if rest and _has_registry(first) else reference
    return f"{mirror.rstrip('/')}/{path}"
