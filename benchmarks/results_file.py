"""Each benchmark keeps one section of results.md, between its own markers, and replaces only that."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results.md"


def write_section(begin: str, end: str, section: str) -> None:
    """Put ``section`` (which starts with ``begin`` and ends with ``end``) in place of the previous one."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if begin in text:
        text = text[: text.index(begin)] + section + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(text)
    print(section)


def publish(begin: str, end: str, section: str, *, write: bool) -> None:
    """Into results.md with ``write``, else only printed."""
    if write:
        write_section(begin, end, section)
    else:
        print(section)
