"""Asks an instance over HTTP whether it is well. Used after deploys and by health sweeps."""

from __future__ import annotations

from enum import StrEnum


class Health(StrEnum):
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    UNKNOWN = "unknown"


def probe(url: str, *, expect_status: int, timeout: float = 5.0) -> Health:
    import httpx  # noqa: PLC0415 - loaded when used, so an idle worker stays small

    try:
        response = httpx.get(url, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError:
        return Health.UNHEALTHY
    return Health.HEALTHY if response.status_code == expect_status else Health.UNHEALTHY
