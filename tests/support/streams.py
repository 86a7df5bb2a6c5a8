"""A job that stays queued, member tokens to follow it with, and live event streams opened over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx

from provisioner.auth.actor import Role
from provisioner.auth.tokens import create_token
from provisioner.db import session_factory
from tests.support import factories

STREAM = {"Accept": "text/event-stream"}


def queued_job(db_url: str) -> tuple[str, str]:
    """(tenant id, job id) of a deploy nobody works on: its stream stays open until it is closed."""
    approved = factories.approved_homepage(db_url)
    return approved.tenant_id, approved.job_id


def member_tokens(db_url: str, tenant_id: str, count: int) -> list[tuple[str, dict[str, str]]]:
    """(token id, headers) of ``count`` read-only member tokens of the tenant."""
    tokens = []
    with session_factory(db_url)() as session:
        for n in range(count):
            row, plain = create_token(session, name=f"member {n}", role=Role.MEMBER, tenant_id=tenant_id)
            tokens.append((row.id, {"Authorization": f"Bearer {plain}"}))
        session.commit()
    return tokens


@contextmanager
def open_streams(
    client: httpx.Client, url: str, headers: list[dict[str, str]]
) -> Iterator[list[httpx.Response]]:
    """One live stream per entry of ``headers``, each open (its answer started) until the block ends."""
    with ExitStack() as stack:
        responses = []
        for each in headers:
            response = client.send(client.build_request("GET", url, headers={**each, **STREAM}), stream=True)
            stack.callback(response.close)
            responses.append(response)
        yield responses
