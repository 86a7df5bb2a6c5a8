"""The README of an export archive, in the association's language: what each part is and how to bring
it into the same software elsewhere (the template's words), and how to check the files."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from provisioner.exports.archive import ServiceExport

_TEXT = {
    "de": {
        "title": "Export der Daten von {association}",
        "made": (
            "Erstellt am {created} (UTC) aus der letzten Sicherung, die dafür in einem Wegwerf-Ordner "
            "wiederhergestellt wurde."
        ),
        "service": "Dienst „{name}“ ({template}, Version {version})",
        "configuration": (
            "configuration.json: die Einstellungen des Dienstes (ohne Passwörter und Schlüssel des Labs); "
            "tragt sie bei der neuen Installation von Hand ein."
        ),
        "where": "Im Archiv: {path}",
        "how": "So bringt ihr ihn woanders hin:",
        "check": (
            "Prüfen, ob alles vollständig ist: „sha256sum -c SHA256SUMS“ in diesem Ordner. manifest.json "
            "nennt jeden Teil, jede Datei und ihre Prüfsumme (SHA-256)."
        ),
    },
    "en": {
        "title": "Export of the data of {association}",
        "made": "Made on {created} (UTC) from the latest backup, restored for it into a throwaway folder.",
        "service": 'Service "{name}" ({template}, version {version})',
        "configuration": (
            "configuration.json: the service's settings (without the lab's passwords and keys); enter "
            "them by hand in the new installation."
        ),
        "where": "In the archive: {path}",
        "how": "How to bring it elsewhere:",
        "check": (
            'To check that everything is complete: "sha256sum -c SHA256SUMS" in this folder. manifest.json '
            "names every part, every file and its checksum (SHA-256)."
        ),
    },
}


def readme_text(manifest: dict[str, Any], services: list[ServiceExport], *, language: str) -> str:
    text = _TEXT[language if language in _TEXT else "en"]
    lines = [
        text["title"].format(association=manifest["association"]["name"]),
        "",
        text["made"].format(created=manifest["created_at"].replace("T", " ").rstrip("Z")),
        "",
    ]
    for entry, service in zip(manifest["services"], services, strict=True):
        heading = text["service"].format(
            name=entry["name"], template=entry["template"], version=entry["version"]
        )
        lines += [heading, "=" * len(heading), "", f"- {text['configuration']}", ""]
        for restored, part in zip(service.parts, entry["parts"][1:], strict=True):
            lines += [
                f"- {getattr(restored.part.title, language if language in _TEXT else 'en')}",
                f"  {text['where'].format(path=part['path'])}",
                f"  {text['how']} {getattr(restored.part.restore, language if language in _TEXT else 'en')}",
                "",
            ]
    lines += [text["check"], ""]
    return "\n".join(lines)
