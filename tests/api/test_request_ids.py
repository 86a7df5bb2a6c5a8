"""Every answer names its request; an id sent by a proxy in front is kept only when it is harmless."""

from __future__ import annotations

import re

from tests.api.conftest import Api


def test_each_answer_has_an_id_of_its_own(api: Api) -> None:
    first = api.client.get("/healthz").headers["x-request-id"]
    second = api.client.get("/api/v1/instances").headers["x-request-id"]  # a 401 carries one too
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


def test_a_proxys_id_is_kept(api: Api) -> None:
    answer = api.client.get("/healthz", headers={"X-Request-ID": "caddy-7f3a9c01"})
    assert answer.headers["x-request-id"] == "caddy-7f3a9c01"


def test_anything_else_is_replaced(api: Api) -> None:
    for sent in ("short", "has space in it", "x" * 65, "new\\nline-in-it", "ümlaut-123"):
        answer = api.client.get("/healthz", headers={"X-Request-ID": sent.encode()})
        assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["x-request-id"]), sent
