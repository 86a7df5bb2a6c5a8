"""Deleting an association's repository on an S3 target: every object under ``<prefix>/<tenant id>/``
in the bucket (``provisioner.backups.repository.location``), listed with ListObjectsV2 and deleted one
by one with DeleteObject, signed with the target's keys; then listed again: anything left fails the
step. S3 has no folders, so nothing else stays.

What a listing names is untrusted: only a key under the repository's own prefix is put into a request.
"""

from __future__ import annotations

import json

# Expat (2.4 and later) limits entity expansion; a listing needs no more than elements and text.
import xml.etree.ElementTree as ET

import httpx

from provisioner.backups.s3 import object_url, signed_headers
from provisioner.config import Settings
from provisioner.crypto import decrypt
from provisioner.models import BackupTarget
from provisioner.offboarding.errors import RepositoryNotDeleted

NS = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}
TIMEOUT_S = 60


def delete_on_s3(settings: Settings, target: BackupTarget, *, tenant_id: str) -> None:
    keys = json.loads(decrypt(settings, target.encrypted_credentials))
    credentials = (keys["aws_access_key_id"], keys["aws_secret_access_key"])
    bucket, _, base = target.path.strip("/").partition("/")
    prefix = f"{base}/{tenant_id}/" if base else f"{tenant_id}/"
    endpoint = target.s3_endpoint or ""
    try:
        with httpx.Client(timeout=TIMEOUT_S) as client:
            for key in _listed(client, target, bucket=bucket, prefix=prefix, credentials=credentials):
                if not key.startswith(prefix) or "/../" in f"/{key}/":
                    continue  # not of this repository: left, and counted below
                url = object_url(endpoint, bucket, key)
                _answered(target, client.delete(url, headers=signed_headers("DELETE", url, {}, *credentials)))
            left = _listed(client, target, bucket=bucket, prefix=prefix, credentials=credentials)
    except httpx.HTTPError as exc:
        raise RepositoryNotDeleted(
            f"the S3 target {target.name} did not answer: {type(exc).__name__}"
        ) from exc
    if left:
        raise RepositoryNotDeleted(
            f"on {target.name}, {len(left)} object(s) under {prefix} are still there after deleting; "
            "look at them, delete them, then resume the offboarding"
        )


def _answered(target: BackupTarget, answer: httpx.Response) -> None:
    """Go on after a success (DeleteObject answers 204 also for a key already gone); otherwise fail
    in our own words: what the service says is not passed on."""
    code = answer.status_code
    if code < 300:
        return
    if code in (401, 403):
        raise RepositoryNotDeleted(f"the S3 target {target.name} refused the lab's keys ({code})")
    if code == 404:
        raise RepositoryNotDeleted(f"the S3 target {target.name} has no bucket {target.path.split('/')[0]}")
    raise RepositoryNotDeleted(f"the S3 target {target.name} answered {code} while deleting")


def _listed(
    client: httpx.Client, target: BackupTarget, *, bucket: str, prefix: str, credentials: tuple[str, str]
) -> list[str]:
    """Every key under ``prefix``, through all pages."""
    url = object_url(target.s3_endpoint or "", bucket, "").rstrip("/")
    found: list[str] = []
    query = {"list-type": "2", "prefix": prefix}
    while True:
        answer = client.get(url, params=query, headers=signed_headers("GET", url, query, *credentials))
        _answered(target, answer)
        try:
            root = ET.fromstring(answer.content)  # noqa: S314 - see the import above
        except ET.ParseError as exc:
            raise RepositoryNotDeleted(
                f"the S3 target {target.name} answered a listing S3 would not"
            ) from exc
        found += [key.text or "" for key in root.iterfind("s3:Contents/s3:Key", NS)]
        token = root.findtext("s3:NextContinuationToken", namespaces=NS)
        if root.findtext("s3:IsTruncated", namespaces=NS) != "true" or not token:
            return found
        query = {**query, "continuation-token": token}
