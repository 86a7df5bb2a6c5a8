"""The HTTP API in-process on a real database; only the broker is replaced, by a recorder.

The broker path itself is covered end to end in tests/e2e.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.app import create_app
from provisioner.auth.actor import Role
from provisioner.auth.tokens import create_token
from provisioner.config import Settings
from provisioner.db import session_factory
from tests.support.factories import HOST_KEY


class RecordingDispatcher:
    """Stands in for the Celery broker in API-level tests: records which jobs would be sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, session: Session, job_id: str) -> None:
        self.sent.append(job_id)


class Api:
    def __init__(self, client: TestClient, db_url: str, dispatcher: RecordingDispatcher) -> None:
        self.client = client
        self.db_url = db_url
        self.dispatcher = dispatcher
        self.operator = self.token(role=Role.OPERATOR, tenant_id=None)

    def token(self, *, role: Role, tenant_id: str | None) -> dict[str, str]:
        with session_factory(self.db_url)() as session:
            _, plain = create_token(session, name="test", role=role, tenant_id=tenant_id)
            session.commit()
        return {"Authorization": f"Bearer {plain}"}

    def tenant(self, slug: str) -> tuple[str, dict[str, str]]:
        body = {"slug": slug, "name": f"{slug} e.V.", "contact_email": f"board@{slug}.org"}
        response = self.client.post("/api/v1/tenants", json=body, headers=self.operator)
        assert response.status_code == 201, response.text
        tenant_id: str = response.json()["id"]
        return tenant_id, self.token(role=Role.ADMIN, tenant_id=tenant_id)

    def server(self, name: str = "s1") -> str:
        body = {
            "name": name,
            "address": "192.0.2.10",
            "capacity": {"cpu": 4, "memory_mb": 4096, "disk_gb": 40},
            "host_key": HOST_KEY,
        }
        response = self.client.post("/api/v1/servers", json=body, headers=self.operator)
        assert response.status_code == 201, response.text
        server_id: str = response.json()["id"]
        return server_id

    def homepage(self, headers: dict[str, str], name: str = "site") -> str:
        return self.request("homepage", headers, name, {"title": "Unser Verein"})

    def wordpress(self, headers: dict[str, str], name: str = "blog") -> str:
        """A service with data of its own (backups, drills)."""
        return self.request("wordpress", headers, name, {})

    def request(self, template: str, headers: dict[str, str], name: str, parameters: dict[str, Any]) -> str:
        body = {"template": template, "name": name, "parameters": parameters}
        response = self.client.post("/api/v1/instances", json=body, headers=headers)
        assert response.status_code == 201, response.text
        instance_id: str = response.json()["id"]
        return instance_id


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[Api]:
    settings = Settings(data_dir=tmp_path, database_url=db_url, broker_url="memory://")
    app = create_app(settings)
    dispatcher = RecordingDispatcher()
    app.state.dispatcher = dispatcher
    with TestClient(app) as client:
        yield Api(client, db_url, dispatcher)
