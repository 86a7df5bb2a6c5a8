"""The README of an export archive, in the association's language: what each part is and how to bring
it into the same software elsewhere (the template's words), which services were left out and why, and
how to check the files.

German comes from the notices' catalogue (``babel-notices.cfg`` extracts this module), as mails do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from provisioner.i18n import compiled_translations
from provisioner.messages import N_, STATES
from provisioner.notices.render import catalogue_path

if TYPE_CHECKING:
    from provisioner.exports.archive import ServiceExport, Skipped

TITLE = N_("Export of the data of %(association)s")
MADE = N_("Made on %(created)s (UTC) from the latest backup, restored for it into a throwaway folder.")
SERVICE = N_("Service “%(name)s” (%(template)s, version %(version)s)")
SPACE_OF = N_("Space “%(name)s” in the lab's shared %(template)s (version %(version)s)")
CONFIGURATION = N_(
    "configuration.json: the service's settings (without the lab's passwords and keys); enter them by "
    "hand in the new installation."
)
WHERE = N_("In the archive: %(path)s")
HOW = N_("How to bring it elsewhere:")
SKIPPED = N_("Not in this archive: “%(name)s” (%(template)s): %(reason)s.")
# Why a service of an association's export was left out (``Skipped.why``).
NOT_RUNNING = N_("the service is %(state)s; only a running service is exported")
NO_EXPORTS = N_("its template does not say how its data is exported")
BUSY = N_("another job was working on the service")
SPACE_NOT_RUNNING = N_("the space is %(state)s; only a running space is exported")
NOT_SEPARABLE = N_(
    "a space in the lab's shared service, which cannot take one space's data apart from the others'"
)
NO_SPACE_PARTS = N_("its template does not say how a space's data is exported")
# A part of a service the backup does not hold (``ServiceExport.missing``).
MISSING_PART = N_(
    "Not in this archive: the service was set up before the lab could export this part, and has not "
    "been set up again since. Once the lab has set it up again (a redeploy, or its next update), the "
    "next export holds it."
)
CHECK = N_(
    "To check that everything is complete: “sha256sum -c SHA256SUMS” in this folder. manifest.json "
    "names every part, every file and its checksum (SHA-256)."
)


def readme_text(
    manifest: dict[str, Any], services: list[ServiceExport], skipped: tuple[Skipped, ...], *, language: str
) -> str:
    shown = language if language in ("de", "en") else "en"
    say = compiled_translations(catalogue_path(shown), shown).gettext
    lines = [
        say(TITLE) % {"association": manifest["association"]["name"]},
        "",
        say(MADE) % {"created": manifest["created_at"].replace("T", " ").rstrip("Z")},
        "",
    ]
    exported = [entry for entry in manifest["services"] if entry.get("state") != "skipped"]
    for entry, service in zip(exported, services, strict=True):
        heading = say(SPACE_OF if service.space else SERVICE) % entry
        lines += [heading, "=" * len(heading), "", f"- {say(CONFIGURATION)}", ""]
        held = entry["parts"][1 : 1 + len(service.parts)]
        for restored, part in zip(service.parts, held, strict=True):
            lines += [
                f"- {getattr(restored.part.title, shown)}",
                f"  {say(WHERE) % {'path': part['path']}}",
                f"  {say(HOW)} {getattr(restored.part.restore, shown)}",
                "",
            ]
        for missing in service.missing:
            lines += [f"- {getattr(missing.title, shown)}", f"  {say(MISSING_PART)}", ""]
    for left_out in skipped:
        state = say(STATES.get(left_out.state or "", left_out.state or ""))
        reason = say(left_out.why) % {"state": state}
        values = {"name": left_out.name, "template": left_out.template, "reason": reason}
        lines += [say(SKIPPED) % values]
        if left_out.said is not None:
            lines += [f"  {getattr(left_out.said, shown)}"]
        lines += [""]
    lines += [say(CHECK), ""]
    return "\n".join(lines)
