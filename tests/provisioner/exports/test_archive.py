"""An export archive from restored parts: files as files, checksums that match, the README in the
association's language, what the template leaves out left out, links kept as links, secrets refused."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from provisioner.catalog.base import Localized
from provisioner.catalog.exports import ExportPart
from provisioner.exports.archive import RestoredPart, SecretInExport, ServiceExport, build_archive

MOMENT = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
ROOT = "verein-a-blog-2026-12-06"
SECRET = "Zq8sVv1mWJ0sdUu2n3T4RxYb"


def _part(name: str, kind: str, **more: object) -> ExportPart:
    words = Localized(de=f"{name} (de)", en=f"{name} (en)")
    restore = Localized(de=f"So geht {name}.", en=f"How {name} goes.")
    return ExportPart.model_validate({"name": name, "kind": kind, "volume": name, "title": words,
                                      "restore": restore, **more})  # fmt: skip


@pytest.fixture
def restored(tmp_path: Path) -> tuple[Path, Path]:
    content = tmp_path / "content"
    (content / "uploads" / "2026").mkdir(parents=True)
    (content / "uploads" / "2026" / "foto.jpg").write_bytes(os.urandom(200_000))
    (content / "index.php").write_text("<?php // Silence is golden.\n")
    (content / "cache").mkdir()
    (content / "cache" / "page.html").write_text("cached")
    os.symlink("/etc/passwd", content / "uploads" / "link")
    dump = tmp_path / "backup.sql"
    dump.write_text("CREATE TABLE notes (id INT);\nINSERT INTO notes VALUES (1);\n")
    return content, dump


def _build(restored: tuple[Path, Path], *, language: str = "de", secrets: list[str] | None = None) -> bytes:
    content, dump = restored
    service = ServiceExport(
        name="blog",
        template="wordpress",
        version="6.1",
        configuration={"service": "wordpress", "parameters": {"language": "de_DE"}},
        parts=[
            RestoredPart(part=_part("database", "sql", path="backup.sql", dialect="mariadb"), source=dump),
            RestoredPart(part=_part("content", "files", exclude=["cache"]), source=content),
        ],
        secrets=secrets or [],
    )
    out = io.BytesIO()
    built = build_archive(
        out,
        root=ROOT,
        association={"slug": "verein-a", "name": "Verein A e.V."},
        services=[service],
        language=language,
        created_at=MOMENT,
    )
    data = out.getvalue()
    assert built.sha256 == hashlib.sha256(data).hexdigest()
    assert built.size_bytes == len(data)
    return data


def test_files_come_as_files_with_checksums_that_match(restored: tuple[Path, Path], tmp_path: Path) -> None:
    content, dump = restored
    unpacked = tmp_path / "unpacked"
    with tarfile.open(fileobj=io.BytesIO(_build(restored)), mode="r:gz") as tar:
        tar.extractall(unpacked, filter="tar")
    top = unpacked / ROOT
    photo = content / "uploads" / "2026" / "foto.jpg"
    assert (top / "blog/content/uploads/2026/foto.jpg").read_bytes() == photo.read_bytes()
    assert (top / "blog/database.sql").read_bytes() == dump.read_bytes()
    # What the template leaves out stays out; a link stays a link, never followed.
    assert not (top / "blog/content/cache").exists()
    assert os.readlink(top / "blog/content/uploads/link") == "/etc/passwd"
    # Checked as a user would, with the tools of any Linux machine.
    checked = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=top, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "blog/content/uploads/2026/foto.jpg: OK" in checked.stdout


def test_the_manifest_names_every_part_and_file(restored: tuple[Path, Path]) -> None:
    with tarfile.open(fileobj=io.BytesIO(_build(restored)), mode="r:gz") as tar:
        member = tar.extractfile(f"{ROOT}/manifest.json")
        assert member is not None
        manifest = json.load(member)
    assert manifest["format"] == "provisioner-export/1"
    assert manifest["association"] == {"slug": "verein-a", "name": "Verein A e.V."}
    assert manifest["created_at"] == "2026-12-06T02:00:00Z"
    [service] = manifest["services"]
    assert (service["name"], service["template"], service["version"]) == ("blog", "wordpress", "6.1")
    parts = {p["name"]: p for p in service["parts"]}
    assert list(parts) == ["configuration", "database", "content"]
    assert parts["database"]["dialect"] == "mariadb"
    assert parts["database"]["path"] == "blog/database.sql"
    files = {f["path"]: f for f in parts["content"]["files"]}
    assert (
        files["blog/content/index.php"]["sha256"]
        == hashlib.sha256(b"<?php // Silence is golden.\n").hexdigest()
    )
    assert files["blog/content/uploads/link"] == {"path": "blog/content/uploads/link", "link": "/etc/passwd"}
    assert not any("cache" in path for path in files)


@pytest.mark.parametrize(
    ("language", "says"),
    [("de", ["Export der Daten von Verein A e.V.", "So geht database.", "database (de)"]),
     ("en", ["Export of the data of Verein A e.V.", "How content goes.", "content (en)"])],
)  # fmt: skip
def test_the_readme_is_in_the_association_s_language(
    restored: tuple[Path, Path], language: str, says: list[str]
) -> None:
    with tarfile.open(fileobj=io.BytesIO(_build(restored, language=language)), mode="r:gz") as tar:
        member = tar.extractfile(f"{ROOT}/README.txt")
        assert member is not None
        readme = member.read().decode()
    for line in says:
        assert line in readme
    assert "blog/database.sql" in readme
    assert "sha256sum -c SHA256SUMS" in readme


@pytest.mark.parametrize("where", ["start", "across a chunk", "end"])
def test_a_file_holding_a_secret_of_the_lab_ends_the_export(restored: tuple[Path, Path], where: str) -> None:
    content, _ = restored
    body = os.urandom(3 * 1024 * 1024)
    at = {"start": 0, "across a chunk": 1024 * 1024 - 5, "end": len(body)}[where]
    (content / "uploads" / "wp-config-copy.php").write_bytes(body[:at] + SECRET.encode() + body[at:])
    with pytest.raises(SecretInExport, match=r"blog/content/uploads/wp-config-copy\.php") as refused:
        _build(restored, secrets=[SECRET])
    assert SECRET not in str(refused.value)
