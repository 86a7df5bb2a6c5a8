"""A stand-in S3 endpoint for the tests: moto's server (``moto[server]``) speaking the S3 HTTP API on
loopback. It stands in for a real S3 service because none can be installed here (Debian 12 packages
no MinIO, and radosgw needs a whole Ceph cluster); restic talks to it over real HTTP like to any other.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.processes import kill_tree
from tests.support.stack import free_port

_NS = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}


@dataclass(frozen=True)
class S3Endpoint:
    url: str  # http://127.0.0.1:<port>, as a backup target's s3_endpoint
    bucket: str
    access_key_id: str
    secret_access_key: str

    def keys(self, prefix: str) -> list[str]:
        """Every object name in the bucket under ``prefix`` (all pages of ListObjectsV2)."""
        found: list[str] = []
        params = {"list-type": "2", "prefix": prefix}
        while True:
            answer = httpx.get(f"{self.url}/{self.bucket}", params=params, timeout=30)
            answer.raise_for_status()
            root = ET.fromstring(answer.content)  # noqa: S314 - our own moto_server answers, on loopback
            found += [key.text or "" for key in root.iterfind("s3:Contents/s3:Key", _NS)]
            token = root.findtext("s3:NextContinuationToken", namespaces=_NS)
            if root.findtext("s3:IsTruncated", namespaces=_NS) != "true" or not token:
                return found
            params["continuation-token"] = token


def _wait_until_it_answers(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 60  # moto imports much on first start; slow on a busy machine
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited:\n{log.read_text()}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"moto_server on {url} did not answer within 60 s:\n{log.read_text()}")


@contextmanager
def s3_standin(folder: Path, bucket: str = "backups") -> Iterator[S3Endpoint]:
    """moto_server on 127.0.0.1 and a free port, in its own process group, with ``bucket`` made;
    stopped (with whatever it started) at the end."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = folder / "moto_server.log"
    moto_server = Path(sys.executable).parent / "moto_server"
    with log.open("ab") as output:
        process = subprocess.Popen(
            [str(moto_server), "-H", "127.0.0.1", "-p", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_it_answers(process, url, log)
        httpx.put(f"{url}/{bucket}", timeout=30).raise_for_status()
        yield S3Endpoint(
            url=url,
            bucket=bucket,
            access_key_id="AKIA" + secrets.token_hex(8).upper(),
            secret_access_key=secrets.token_urlsafe(30),
        )
    finally:
        kill_tree(process.pid)
        process.wait()
