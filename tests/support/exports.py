"""An export archive taken apart as the association would: unpacked, its checksums checked, and its
SQL loaded into a fresh MariaDB or PostgreSQL of its own."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import docker
from sqlalchemy import select

from provisioner.config import Settings
from provisioner.crypto import decrypt
from provisioner.db import session_factory, transaction
from provisioner.exports.sealed import SealedWriter, opened
from provisioner.models import Export, InstanceSecret
from provisioner.timeutil import utcnow
from tests.support.api_client import ApiClient
from tests.support.lab import job_succeeded

# The README's first line in German, the language associations get unless they chose another.
GERMAN_TITLE = "Export der Daten von "


def unpacked(archive: bytes, into: Path) -> tuple[Path, dict[str, Any]]:
    """The archive's top folder and its manifest, every file's checksum checked against the manifest."""
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        tar.extractall(into, filter="tar")
    [top] = list(into.iterdir())
    manifest = json.loads((top / "manifest.json").read_text())
    for service in manifest["services"]:
        for part in service.get("parts", []):
            for entry in part["files"]:
                if "sha256" in entry:
                    digest = hashlib.sha256((top / entry["path"]).read_bytes()).hexdigest()
                    assert digest == entry["sha256"], entry["path"]
    return top, manifest


def loaded_into_fresh_mariadb(client: docker.DockerClient, image: str, dump: bytes, query: str) -> str:
    """Start a MariaDB of its own (the image's entrypoint makes an empty database), load ``dump`` with
    the mariadb client, which stops at the first error, and answer ``query``."""
    env = {"MARIADB_DATABASE": "imported", "MARIADB_USER": "imported", "MARIADB_PASSWORD": "imported-pw"}
    container = client.containers.run(image, detach=True, environment=env, network_mode="none")
    try:
        deadline = time.monotonic() + 120
        while container.exec_run(["mariadb-admin", "ping"]).exit_code != 0:
            assert time.monotonic() < deadline, "the fresh MariaDB did not start"
            time.sleep(1)
        _put(container, "database.sql", dump)
        loaded = container.exec_run(["sh", "-c", "mariadb imported < /tmp/database.sql"])
        assert loaded.exit_code == 0, loaded.output.decode()[-500:]
        answer = container.exec_run(["mariadb", "-N", "-B", "imported", "-e", query])
        assert answer.exit_code == 0, answer.output.decode()
        return str(answer.output.decode().strip())
    finally:
        container.remove(force=True, v=True)


@dataclass(frozen=True)
class Exported:
    """A service's export as its association downloaded and unpacked it."""

    top: Path
    manifest: dict[str, Any]
    # The service's parts by name, as the manifest lists them.
    parts: dict[str, dict[str, Any]]


def exported_service(
    client: ApiClient, instance: dict[str, Any], *, data_dir: Path, into: Path, parts: list[str]
) -> Exported:
    """Export the running ``instance`` through the API as its association's admin, download the archive
    and take it apart: its size and checksum are the export's, every file's checksum the manifest's
    and SHA256SUMS's, the manifest names the service, its version and ``parts`` (after the
    configuration), the README is German, and no file holds any of the lab's secrets of the service."""
    asked = client.call("POST", f"/api/v1/instances/{instance['id']}/exports", expect=202)
    job_succeeded(client, asked)
    export = client.call("GET", f"/api/v1/exports/{asked['export']['id']}", expect=200)
    assert (export["state"], export["scope"]) == ("ready", "service")
    archive = client.http.get(export["download"]).content
    assert (len(archive), hashlib.sha256(archive).hexdigest()) == (export["size_bytes"], export["sha256"])
    top, manifest = unpacked(archive, into)
    [service] = manifest["services"]
    assert (service["name"], service["template"], service["version"], service["state"]) == (
        instance["name"],
        instance["template"],
        instance["version"],
        "exported",
    )
    assert [part["name"] for part in service["parts"]] == ["configuration", *parts]
    for line in (top / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        assert hashlib.sha256((top / name).read_bytes()).hexdigest() == digest, name
    readme = (top / "README.txt").read_text()
    assert readme.startswith(GERMAN_TITLE), readme[:200]
    assert all(part["path"] in readme for part in service["parts"][1:])
    configuration = json.loads((top / instance["name"] / "configuration.json").read_text())
    assert (configuration["service"], configuration["version"]) == (instance["template"], instance["version"])
    secrets = lab_secrets(data_dir, instance["id"])
    assert secrets
    for path in top.rglob("*"):
        if path.is_file() and not path.is_symlink():
            content = path.read_bytes()
            assert not [name for name, value in secrets.items() if value.encode() in content], path
    return Exported(top, manifest, {part["name"]: part for part in service["parts"]})


def lab_secrets(data_dir: Path, instance_id: str) -> dict[str, str]:
    """The values the lab generated for the instance (passwords, keys), read from its database."""
    settings = Settings(data_dir=data_dir)
    with transaction(settings.resolved_database_url) as session:
        rows = session.scalars(select(InstanceSecret).where(InstanceSecret.instance_id == instance_id))
        return {row.name: decrypt(settings, row.encrypted) for row in rows}


def loaded_into_fresh_postgresql(client: docker.DockerClient, image: str, dump: bytes, query: str) -> str:
    """Start a PostgreSQL of its own (the image's entrypoint makes an empty database owned by a user of
    its own, as an association's new host would), load ``dump`` with psql stopping at the first error,
    in one transaction, and answer ``query``."""
    env = {"POSTGRES_USER": "imported", "POSTGRES_PASSWORD": "imported-pw", "POSTGRES_DB": "imported"}
    container = client.containers.run(image, detach=True, environment=env, network_mode="none")
    try:
        # Ready once it listens on TCP: the entrypoint's first start, to make the database, takes only
        # the socket, and is stopped again right after.
        deadline = time.monotonic() + 120
        while container.exec_run(["pg_isready", "-q", "-h", "127.0.0.1"]).exit_code != 0:
            assert time.monotonic() < deadline, "the fresh PostgreSQL did not start"
            time.sleep(1)
        _put(container, "database.sql", dump)
        psql = ["psql", "-U", "imported", "-d", "imported", "-v", "ON_ERROR_STOP=1"]
        loaded = container.exec_run([*psql, "--single-transaction", "-q", "-f", "/tmp/database.sql"])
        assert loaded.exit_code == 0, loaded.output.decode()[-500:]
        answer = container.exec_run([*psql, "-tA", "-c", query])
        assert answer.exit_code == 0, answer.output.decode()
        return str(answer.output.decode().strip())
    finally:
        container.remove(force=True, v=True)


def _put(container: Any, name: str, content: bytes) -> None:
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(content), 0o644
        tar.addfile(info, io.BytesIO(content))
    assert container.put_archive("/tmp", packed.getvalue())


def unsealed(settings: Settings, export: Export) -> dict[str, bytes]:
    """Each file of the export's sealed archive by its path below the archive's top folder."""
    with (settings.resolved_exports_dir / str(export.file)).open("rb") as sealed:
        plain = b"".join(opened(sealed, [settings.secret_key]))
    with tarfile.open(fileobj=io.BytesIO(plain), mode="r:gz") as tar:
        return {
            m.name.split("/", 1)[1]: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


def sealed_ready(settings: Settings, db_url: str, export_id: str) -> bytes:
    """The export made ready with a sealed archive of random bytes; those bytes."""
    plain = os.urandom(5000)
    with session_factory(db_url)() as session:
        export = session.get_one(Export, export_id)
        export.file = f"{export.id}.tar.gz.sealed"
        settings.resolved_exports_dir.mkdir(parents=True, exist_ok=True)
        with (settings.resolved_exports_dir / export.file).open("wb") as out:
            sealer = SealedWriter(out, settings.secret_key)
            sealer.write(plain)
            sealer.close()
        export.state, export.size_bytes = "ready", len(plain)
        export.sha256 = hashlib.sha256(plain).hexdigest()
        export.finished_at, export.expires_at = utcnow(), utcnow() + timedelta(hours=72)
        session.commit()
    return plain


def export_of(db_url: str, job_id: str) -> Export:
    """The export row the job makes, read apart from any session."""
    with transaction(db_url) as session:
        export = session.scalars(select(Export).where(Export.job_id == job_id)).one()
        session.expunge(export)
        return export


# The namespaces of WordPress's export format (WXR) 1.2, as wp-admin/includes/export.php writes them.
WXR = {
    "wp": "http://wordpress.org/export/1.2/",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
}


def wxr_items(path: Path) -> dict[str, dict[str, str]]:
    """The items of a WXR file by title, each with the fields the WordPress Importer reads of it, once
    the file is what the importer's parser takes (WordPress/wordpress-importer,
    src/parsers/class-wxr-parser-simplexml.php): well-formed XML without a DOCTYPE, an rss/channel with
    wp:wxr_version of the form N.N (here 1.2), the site's wp:base_site_url, each author with a login,
    and each item with its id, type and status, written by one of those authors."""
    raw = path.read_bytes()
    assert b"<!DOCTYPE" not in raw  # the importer refuses any
    channel = ElementTree.fromstring(raw).find("channel")  # noqa: S314 - the export made in the test
    assert channel is not None
    assert channel.findtext("wp:wxr_version", namespaces=WXR) == "1.2"
    assert channel.findtext("wp:base_site_url", namespaces=WXR)
    logins = {a.findtext("wp:author_login", namespaces=WXR) for a in channel.findall("wp:author", WXR)}
    items: dict[str, dict[str, str]] = {}
    for item in channel.iter("item"):
        fields = {
            name: item.findtext(f"wp:{name}", default="", namespaces=WXR)
            for name in ("post_id", "post_type", "status", "post_parent", "attachment_url")
        }
        fields["content"] = item.findtext("content:encoded", default="", namespaces=WXR)
        assert fields["post_id"].isdigit()
        assert item.findtext("dc:creator", namespaces=WXR) in logins
        items[item.findtext("title", default="")] = fields
    return items
