"""One export archive (tar + gzip) from services' restored parts: files as files, each file's SHA-256 in
``manifest.json`` and ``SHA256SUMS``, and a README saying how to bring each part elsewhere.

Written as a stream (into the sealed file), each file read once: its checksum is taken, and it is
searched for the lab's secrets of the service, on the way into the archive. A file holding one ends
the export (``SecretInExport``): the template should leave it out, and nothing of it may leave the lab.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import json
import os
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from provisioner.catalog.base import Localized
from provisioner.catalog.exports import Part
from provisioner.exports.readme import MISSING_PART, readme_text

FORMAT = "provisioner-export/1"
_CHUNK = 1024 * 1024


class SecretInExport(Exception):
    """A file of the export holds one of the lab's secrets of the service; the message names the file."""


@dataclass(frozen=True)
class RestoredPart:
    part: Part
    # The part's folder (files) or file (sql, file) in the restored copy.
    source: Path


@dataclass(frozen=True)
class ServiceExport:
    name: str
    template: str
    version: str
    configuration: dict[str, Any]
    parts: list[RestoredPart]
    # The lab's generated values of the service (passwords, keys): none may be in the archive.
    secrets: list[str] = field(default_factory=list, repr=False)
    # A space of the lab's shared service: its own data, apart from the other spaces'.
    space: bool = False
    # Parts the backup does not hold: their volume came with the template after the service was
    # deployed, and the service has not been deployed again since (hooks.backup.optional).
    missing: list[Part] = field(default_factory=list)


@dataclass(frozen=True)
class Skipped:
    """A service of an association's export left out, with the reason (it is not running, say): one
    of ``provisioner.exports.readme``'s texts, said in the README in the association's language."""

    name: str
    template: str
    version: str
    why: str
    state: str | None = None
    # A space of the lab's shared service, and the template's own words on why its data stays there.
    space: bool = False
    said: Localized | None = None

    @property
    def reason(self) -> str:
        reason = self.why % {"state": self.state}
        return f"{reason}: {self.said.en}" if self.said is not None else reason


@dataclass(frozen=True)
class Built:
    sha256: str
    size_bytes: int
    manifest: dict[str, Any]


class _Counted:
    """Passes the archive on, taking its size and checksum on the way."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self.size = 0
        self.hash = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        self._out.write(data)
        return len(data)

    def flush(self) -> None:
        self._out.flush()


class _Read:
    """A file on its way into the archive: its checksum taken and the secrets looked for, chunk by chunk."""

    def __init__(self, source: BinaryIO, secrets: list[bytes], name: str) -> None:
        self._source = source
        self._secrets = secrets
        self._tail = b""
        self._keep = max((len(s) for s in secrets), default=1) - 1
        self._name = name
        self.hash = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        self.hash.update(data)
        window = self._tail + data
        if any(secret in window for secret in self._secrets):
            raise SecretInExport(f"{self._name} holds one of the lab's secrets of the service")
        self._tail = window[-self._keep :] if self._keep else b""
        return data


def build_archive(
    out: BinaryIO,
    *,
    root: str,
    association: dict[str, str],
    services: list[ServiceExport],
    language: str,
    created_at: datetime,
    skipped: tuple[Skipped, ...] = (),
) -> Built:
    """Write the archive of ``services`` into ``out``; the manifest lists each with its files and
    their checksums (and the SHA-256 of its lines in SHA256SUMS, one value standing for all its
    files), and each of ``skipped`` with its reason."""
    counted = _Counted(out)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "created_at": created_at.isoformat().replace("+00:00", "Z"),
        "association": association,
        "services": [],
    }
    sums: list[str] = []
    with tarfile.open(fileobj=counted, mode="w|gz", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
        for service in services:
            secrets = [s.encode() for s in service.secrets if s]
            entry: dict[str, Any] = {
                "name": service.name,
                "template": service.template,
                "version": service.version,
                "state": "exported",
                "parts": [],
            }
            if service.space:
                entry["space"] = True
            own_sums: list[str] = []
            # A space's folder apart from the services': a space may share a service's name.
            folder = f"spaces/{service.name}" if service.space else service.name
            config = json.dumps(service.configuration, indent=2, sort_keys=True).encode() + b"\n"
            config_path = f"{folder}/configuration.json"
            _add_bytes(tar, f"{root}/{config_path}", config, created_at)
            config_sum = hashlib.sha256(config).hexdigest()
            own_sums.append(f"{config_sum}  {config_path}")
            entry["parts"].append(
                {
                    "name": "configuration",
                    "kind": "configuration",
                    "path": config_path,
                    "files": [{"path": config_path, "size": len(config), "sha256": config_sum}],
                }
            )
            for restored in service.parts:
                part_entry = _add_part(tar, root, folder, restored, secrets)
                own_sums += [f"{f['sha256']}  {f['path']}" for f in part_entry["files"] if "sha256" in f]
                entry["parts"].append(part_entry)
            entry["parts"] += [_missing(part) for part in service.missing]
            entry["sha256"] = hashlib.sha256(("\n".join(own_sums) + "\n").encode()).hexdigest()
            sums += own_sums
            manifest["services"].append(entry)
        manifest["services"] += [
            {
                "name": s.name,
                "template": s.template,
                "version": s.version,
                "state": "skipped",
                "reason": s.reason,
            }
            | ({"space": True} if s.space else {})
            for s in skipped
        ]
        readme = readme_text(manifest, services, skipped, language=language).encode()
        _add_bytes(tar, f"{root}/README.txt", readme, created_at)
        _add_bytes(tar, f"{root}/SHA256SUMS", ("\n".join(sums) + "\n").encode(), created_at)
        body = json.dumps(manifest, indent=2, ensure_ascii=False).encode() + b"\n"
        _add_bytes(tar, f"{root}/manifest.json", body, created_at)
    return Built(sha256=counted.hash.hexdigest(), size_bytes=counted.size, manifest=manifest)


def _missing(part: Part) -> dict[str, Any]:
    """A part the backup does not hold: named, with why (in English; the README says it in the
    association's language), and no files."""
    entry = {"name": part.name, "kind": part.kind, "state": "missing", "reason": MISSING_PART}
    return entry | {"title": part.title.model_dump(), "files": []}


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, moment: datetime) -> None:
    if not data:
        return
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, int(moment.timestamp())
    tar.addfile(info, io.BytesIO(data))


def _add_part(
    tar: tarfile.TarFile, root: str, service: str, restored: RestoredPart, secrets: list[bytes]
) -> dict[str, Any]:
    part = restored.part
    suffix = {"sql": ".sql", "file": PurePosixPath(part.path).suffix}.get(part.kind, "")
    where = f"{service}/{part.name}{suffix}"
    entry: dict[str, Any] = {"name": part.name, "kind": part.kind, "path": where, "files": []}
    if part.dialect:
        entry["dialect"] = part.dialect
    entry["title"] = part.title.model_dump()
    if part.kind in ("sql", "file"):
        entry["files"].append(_add_file(tar, root, where, restored.source, secrets))
        return entry
    for relative, path in _walk(restored.source, part.exclude):
        entry["files"].append(_add_file(tar, root, f"{where}/{relative}", path, secrets))
    return entry


def _walk(folder: Path, exclude: list[str]) -> Iterator[tuple[str, Path]]:
    """Every entry below ``folder`` in a stable order, without following links, less what is left out."""
    for current, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        base = Path(current)
        for name in [*sorted(files), *[d for d in dirs if (base / d).is_symlink()]]:
            relative = (base / name).relative_to(folder).as_posix()
            if not _left_out(relative, exclude):
                yield relative, base / name
        dirs[:] = [
            d
            for d in dirs
            if not (base / d).is_symlink()
            and not _left_out((base / d).relative_to(folder).as_posix(), exclude)
        ]


def _left_out(relative: str, exclude: list[str]) -> bool:
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(fnmatch.fnmatchcase(prefix, glob) for prefix in prefixes for glob in exclude)


def _add_file(tar: tarfile.TarFile, root: str, name: str, path: Path, secrets: list[bytes]) -> dict[str, Any]:
    found = path.lstat()
    info = tarfile.TarInfo(f"{root}/{name}")
    info.mode, info.mtime = stat.S_IMODE(found.st_mode), int(found.st_mtime)
    info.uid, info.gid = found.st_uid, found.st_gid
    if stat.S_ISLNK(found.st_mode):
        # Kept as a link: never followed, as it was written by the service's server.
        info.type, info.linkname = tarfile.SYMTYPE, os.readlink(path)
        tar.addfile(info)
        return {"path": name, "link": info.linkname}
    if not stat.S_ISREG(found.st_mode):
        return {"path": name, "skipped": "not a regular file"}
    info.size = found.st_size
    with path.open("rb") as source:
        read = _Read(source, secrets, name)
        tar.addfile(info, read)
    return {"path": name, "size": found.st_size, "sha256": read.hash.hexdigest()}
