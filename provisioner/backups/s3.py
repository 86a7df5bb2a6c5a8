"""The control plane's own requests to an S3 target: signed with AWS Signature Version 4
(docs.aws.amazon.com, "Signature Version 4 signing process": canonical request → string to sign → a
key derived from date, region and service), always without a body."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from urllib.parse import quote, urlsplit

REGION = "us-east-1"  # what restic assumes for an endpoint that names no region
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signed_headers(
    method: str, url: str, query: dict[str, str], key_id: str, secret: str, *, region: str = REGION
) -> dict[str, str]:
    """The headers that sign ``method`` on ``url`` (its path already percent-encoded) with ``query``."""
    now = dt.datetime.now(dt.UTC)
    stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    parts = urlsplit(url)
    headers = {"host": parts.netloc, "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": stamp}
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query.items())
    )
    names = ";".join(sorted(headers))
    canonical = "\n".join(
        [
            method,
            parts.path or "/",
            canonical_query,
            "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)),
            names,
            EMPTY_SHA256,
        ]
    )
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret}".encode(), day), region), "s3"), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    authorization = (
        f"AWS4-HMAC-SHA256 Credential={key_id}/{scope}, SignedHeaders={names}, Signature={signature}"
    )
    return {"x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": stamp, "Authorization": authorization}


def object_url(endpoint: str, bucket: str, key: str) -> str:
    """Path-style address of one object, each segment of its key percent-encoded as the signature
    expects it."""
    return f"{endpoint}/{quote(bucket, safe='')}/{quote(key, safe='/-_.~')}"
