"""Two associations, each with a space of one shared service, through a running lab's API: the steps
the shared modes' end-to-end tests share."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from tests.support.api_client import ApiClient, new_tenant

ASSOCIATIONS = ("verein-a", "verein-b")


def two_spaces_in_one_instance(
    cleanup: ExitStack,
    base_url: str,
    operator: ApiClient,
    *,
    template: str,
    name: str,
    server_id: str,
    quota: dict[str, int] | None = None,
) -> tuple[dict[str, ApiClient], dict[str, dict[str, Any]], str]:
    """The operator offers ``template``'s shared mode; two associations each request a space (at
    ``<name>-<association>``), both approved onto ``server_id`` with ``quota`` and made. Returns each
    association's client and space (by slug) and the one shared instance's id."""
    operator.call(
        "PUT", f"/api/v1/catalog/{template}/modes", expect=200, json={"modes": ["dedicated", "shared"]}
    )
    admins: dict[str, ApiClient] = {}
    spaces: dict[str, dict[str, Any]] = {}
    for slug in ASSOCIATIONS:
        admins[slug] = cleanup.enter_context(new_tenant(operator, base_url, slug)[1])
        spaces[slug] = admins[slug].call(
            "POST",
            "/api/v1/spaces",
            expect=201,
            json={"template": template, "name": name, "subdomain": f"{name}-{slug}"},
        )
    jobs = [
        operator.call(
            "POST",
            f"/api/v1/spaces/{spaces[slug]['id']}/approve",
            expect=202,
            json={"server": server_id, "quota": quota or {}},
        )["job"]
        for slug in ASSOCIATIONS
    ]
    for slug, job in zip(ASSOCIATIONS, jobs, strict=True):
        done, _ = admins[slug].wait_for_job(job["id"], timeout=600)
        assert done["status"] == "succeeded", done["error"]
    assert jobs[0]["instance"] == jobs[1]["instance"]  # the second space went into the first's instance
    return admins, spaces, str(jobs[0]["instance"])
