"""An export archive taken apart as the association would: unpacked, its checksums checked, and its
SQL loaded into a fresh MariaDB of its own."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
from pathlib import Path
from typing import Any

import docker


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
        packed = io.BytesIO()
        with tarfile.open(fileobj=packed, mode="w") as tar:
            info = tarfile.TarInfo("database.sql")
            info.size = len(dump)
            tar.addfile(info, io.BytesIO(dump))
        assert container.put_archive("/tmp", packed.getvalue())
        loaded = container.exec_run(["sh", "-c", "mariadb imported < /tmp/database.sql"])
        assert loaded.exit_code == 0, loaded.output.decode()[-500:]
        answer = container.exec_run(["mariadb", "-N", "-B", "imported", "-e", query])
        assert answer.exit_code == 0, answer.output.decode()
        return str(answer.output.decode().strip())
    finally:
        container.remove(force=True, v=True)
