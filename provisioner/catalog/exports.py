"""What ``exports:`` in template.yaml declares: how each part of a service's data leaves in an open format.

An export is made from a backup restored into a throwaway folder, so every part names a volume the
backup keeps and where inside it the part lies. A part is one of:

- ``files``: a folder of the volume (the whole volume by default), taken over file by file;
- ``sql``: a plain-SQL dump the backup's steps wrote into the volume (``dialect`` says which database
  reads it back);
- ``file``: one file in the service's own documented export format (a Discourse backup, say).

Every volume the backup keeps is exported by a part or named in ``omitted`` with the reason, so nothing
of an association's data is left behind without anyone having decided so (``export_check``).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from provisioner.catalog.base import NAME_PATTERN, Localized, Strict


class Part(Strict):
    """One part of an export; where it lies is said by the caller (a volume of a backup, or a space's
    data folder as the service's export command writes it: ``sharing.shared.data.parts``)."""

    name: str = Field(pattern=NAME_PATTERN)
    kind: Literal["files", "sql", "file"]
    # Inside its place: a folder for files ("" is the whole place), the file itself otherwise.
    path: str = ""
    # For sql: the database that reads the dump back.
    dialect: Literal["mariadb", "postgresql"] | None = None
    # Globs (relative to the part's folder) left out: files holding the lab's secrets, caches.
    exclude: list[str] = Field(default_factory=list)
    # What the part holds, and how to bring it into the same software elsewhere (the archive's README).
    title: Localized
    restore: Localized

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        parts = value.split("/")
        # No glob characters either: restic reads the path as a pattern when it restores it.
        if value.startswith("/") or ".." in parts or re.search(r"[\x00-\x1f\\*?\[]", value):
            raise ValueError(f"{value!r} must be a path inside the volume")
        return value.rstrip("/")


class ExportPart(Part):
    volume: str


class Exports(Strict):
    parts: list[ExportPart] = Field(default_factory=list)
    # A backed-up volume not exported, with why (rebuilt by the service, holds only our secrets, ...).
    omitted: dict[str, str] = Field(default_factory=dict)
