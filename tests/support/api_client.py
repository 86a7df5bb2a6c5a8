"""A small HTTP client for the end-to-end tests: only the public API, as any client would use it."""

from __future__ import annotations

import time
from typing import Any

import httpx

FINISHED = {"succeeded", "failed", "canceled", "timed_out"}
# How long a test waits for one job. Generous: two deploys at once on two busy cores take several
# times as long as one on an idle machine, and a slow job is not what these tests are about.
JOB_TIMEOUT = 900.0


class ApiClient:
    def __init__(self, base_url: str, token: str) -> None:
        self.http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.http.close()

    def call(self, method: str, path: str, *, expect: int, json: Any = None) -> Any:
        response = self.http.request(method, path, json=json)
        assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def wait_for_job(self, job_id: str, *, timeout: float = JOB_TIMEOUT) -> tuple[dict[str, Any], list[str]]:
        """Poll until the job ends; return it and the statuses seen on the way."""
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.call("GET", f"/api/v1/jobs/{job_id}", expect=200)
            if not seen or seen[-1] != job["status"]:
                seen.append(job["status"])
            if job["status"] in FINISHED:
                return job, seen
            time.sleep(0.2)
        raise AssertionError(f"job {job_id} did not finish in {timeout} s; seen {seen}")


def new_tenant(operator: ApiClient, base_url: str, slug: str) -> tuple[str, ApiClient]:
    """An association made by the operator, and a client holding its admin token: (tenant id, client)."""
    tenant = operator.call(
        "POST",
        "/api/v1/tenants",
        expect=201,
        json={"slug": slug, "name": f"{slug} e.V.", "contact_email": f"board@{slug}.example.org"},
    )
    token = operator.call(
        "POST", f"/api/v1/tenants/{tenant['id']}/tokens", expect=201, json={"role": "admin", "name": "board"}
    )
    return tenant["id"], ApiClient(base_url, token["token"])
