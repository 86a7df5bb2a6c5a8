"""What ``templates check`` finds wrong in a template's ``exports:``: a part that reads nothing the backup
keeps, or a backed-up volume nobody decided about."""

from __future__ import annotations

from provisioner.catalog.exports import ExportPart, Exports
from provisioner.catalog.model import Template


def export_problems(template: Template, exports: Exports | None) -> list[str]:
    """What is wrong with a template's ``exports:``, one line each; empty when it is sound."""
    if exports is None:
        return ["exports: missing; every template says how an association takes its data with it"]
    backed_up = set(template.hooks.backup.volumes) if template.hooks.backup else set()
    problems: list[str] = []
    names = [part.name for part in exports.parts]
    problems += [
        f"exports: part {n!r} is declared twice" for n in sorted({n for n in names if names.count(n) > 1})
    ]
    if "configuration" in names:
        problems.append("exports: 'configuration' is the name of the part every export adds itself")
    dumps = {d.volume: d.dump for d in (template.hooks.restore.databases if template.hooks.restore else [])}
    for part in exports.parts:
        problems += _part_problems(part, backed_up, dumps)
    exported = {part.volume for part in exports.parts}
    for volume in sorted(set(exports.omitted) - backed_up):
        problems.append(f"exports.omitted: {volume!r} is not a volume the backup keeps")
    for volume in sorted(set(exports.omitted) & exported):
        problems.append(f"exports.omitted: {volume!r} is exported by a part too")
    for volume in sorted(backed_up - exported - set(exports.omitted)):
        problems.append(
            f"exports: the backed-up volume {volume!r} is neither exported nor omitted with a reason"
        )
    return problems


def _part_problems(part: ExportPart, backed_up: set[str], dumps: dict[str, str]) -> list[str]:
    where = f"exports: part {part.name!r}"
    problems: list[str] = []
    if part.volume not in backed_up:
        problems.append(f"{where}: {part.volume!r} is not a volume the backup keeps (hooks.backup.volumes)")
    if part.kind == "sql" and part.dialect is None:
        problems.append(f"{where}: an sql part names its dialect (mariadb or postgresql)")
    if part.kind != "sql" and part.dialect is not None:
        problems.append(f"{where}: only an sql part has a dialect")
    if part.kind in ("sql", "file") and not part.path:
        problems.append(f"{where}: a {part.kind} part names its file (path)")
    if part.kind in ("sql", "file") and part.exclude:
        problems.append(f"{where}: only a files part leaves files out")
    dump = dumps.get(part.volume)
    if part.kind == "sql" and dump is not None and part.path != dump:
        problems.append(f"{where}: the backup's dump of {part.volume!r} is {dump!r}, not {part.path!r}")
    return problems
