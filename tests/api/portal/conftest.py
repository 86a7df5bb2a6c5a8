"""The portal in-process on a real database, with a browser-like client per person."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.portal import backup_target_pages, server_pages
from tests.support.factories import HOST_KEY
from tests.support.portal import People, make_user, sign_in


@pytest.fixture
def people(api) -> Iterator[People]:  # type: ignore[no-untyped-def]
    tenant_a, headers_a = api.tenant("verein-a")
    tenant_b, _ = api.tenant("verein-b")
    make_user(api.db_url, email="op@lab.example", role="operator", tenant_id=None)
    make_user(api.db_url, email="admin@verein-a.org", role="admin", tenant_id=tenant_a)
    make_user(api.db_url, email="admin@verein-b.org", role="admin", tenant_id=tenant_b)
    make_user(api.db_url, email="member@verein-a.org", role="member", tenant_id=tenant_a)
    clients = []
    for email in ("op@lab.example", "admin@verein-a.org", "admin@verein-b.org", "member@verein-a.org"):
        client = TestClient(api.client.app, headers={"Accept-Language": "en"})
        client.__enter__()
        sign_in(client, email)
        clients.append(client)
    try:
        yield People(*clients, tenant_a=tenant_a, tenant_b=tenant_b, admin_a_headers=headers_a)
    finally:
        for client in clients:
            client.__exit__(None, None, None)


@pytest.fixture
def keyscan(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Stands in for ssh-keyscan behind the server and backup-target forms (the browser walk reads a real
    sshd): answers with a fixed host key and records what it was asked."""
    asked: list[tuple[str, int]] = []

    def scan(address: str, port: int, *, timeout: int) -> str:
        asked.append((address, port))
        return HOST_KEY

    for module in (server_pages, backup_target_pages):
        monkeypatch.setattr(module, "scan_host_key", scan)
    return asked
