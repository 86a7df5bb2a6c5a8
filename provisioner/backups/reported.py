"""What a server reports after a backup, checked before any of it is kept.

The server is untrusted: root there can print anything in restic's place. Its report is stored and
used later on *other* servers (a restore into a copy, a move, a drill), so only values of a shape
that cannot mean anything else are kept: a snapshot id of exactly 64 lowercase hex digits, byte counts
as non-negative integers. Where each volume lies inside a snapshot is never taken from the report:
the control plane derives it from its own instance and volume names (``paths_in_snapshot``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from provisioner.deployments.plan import docker_name

_SNAPSHOT_ID = re.compile(r"[0-9a-f]{64}")
# Backups recorded before full ids were asked for hold restic 0.14's short id (8 hex digits); those
# are still restored. Hex digits alone can never be read as an option or a path.
_STORED_SNAPSHOT_ID = re.compile(r"[0-9a-f]{8}|[0-9a-f]{64}")
# Where Debian's Docker keeps named volumes: the layout of backups recorded before each volume was
# backed up relative to that folder.
_LEGACY_VOLUMES_ROOT = "/var/lib/docker/volumes"


class UntrustedReport(ValueError):
    """The server's report of a backup is not of the expected shape; the message says what, not the value."""


@dataclass(frozen=True)
class CheckedReport:
    snapshot_id: str
    size_bytes: int
    added_bytes: int


def _count(summary: dict[str, Any], key: str) -> int:
    value = summary.get(key)
    # bool is an int in Python; a JSON true is no byte count.
    if type(value) is not int or value < 0:
        raise UntrustedReport(f"{key} is not a non-negative whole number")
    return value


def check_report(report: object) -> CheckedReport:
    """The values of a backup playbook's report that may be stored, or ``UntrustedReport``."""
    if not isinstance(report, dict) or not isinstance(report.get("summary"), dict):
        raise UntrustedReport("the report has no summary")
    snapshot_id = report.get("snapshot_id")
    if not isinstance(snapshot_id, str) or not _SNAPSHOT_ID.fullmatch(snapshot_id):
        raise UntrustedReport("the snapshot id is not 64 lowercase hex digits")
    summary = report["summary"]
    return CheckedReport(
        snapshot_id=snapshot_id,
        size_bytes=_count(summary, "total_bytes_processed"),
        added_bytes=_count(summary, "data_added"),
    )


def left_out(report: object, optional: list[str]) -> list[str]:
    """The optional volumes a backup's report says the server lacked (an instance deployed before its
    template had them), or ``UntrustedReport``: only names of ``optional`` are taken, nothing else a
    server could print."""
    missing = report.get("missing", []) if isinstance(report, dict) else None
    if not isinstance(missing, list) or not all(isinstance(name, str) for name in missing):
        raise UntrustedReport("the volumes left out are not a list of names")
    if set(missing) - set(optional):
        raise UntrustedReport("a volume left out is not one the backup may leave out")
    return [name for name in optional if name in missing]


def usable_snapshot_id(value: str | None) -> str:
    """A stored snapshot id, checked again before it goes onto a command line (rows may predate the
    check on storing)."""
    if value is None or not _STORED_SNAPSHOT_ID.fullmatch(value):
        raise UntrustedReport("the recorded snapshot id is not a restic snapshot id")
    return value


def backup_paths(instance_id: str, volumes: list[str]) -> dict[str, str]:
    """Where each volume goes inside a snapshot: restic runs in Docker's volumes folder and backs up
    ``<docker name>/_data``, so the snapshot holds ``/<docker name>/_data``, named by us alone."""
    return {name: f"/{docker_name(instance_id, name)}/_data" for name in volumes}


def paths_in_snapshot(instance_id: str, volumes: list[str], recorded: dict[str, str]) -> dict[str, str]:
    """Where each volume of a backup of ``instance_id`` lies inside its snapshot.

    Derived from our own names; the recorded value only says which of the two layouts the backup has
    (relative to Docker's volumes folder, or, for backups recorded before, absolute under Debian's
    default folder). A recorded value that is neither is refused: it was printed by a server.
    """
    paths = {}
    for name in volumes:
        relative = backup_paths(instance_id, [name])[name]
        legacy = f"{_LEGACY_VOLUMES_ROOT}{relative}"
        found = recorded.get(name)
        if found not in (relative, legacy):
            raise UntrustedReport(f"the recorded place of the volume {name!r} in the snapshot is not ours")
        paths[name] = found
    return paths
