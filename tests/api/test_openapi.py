"""The OpenAPI document as generated clients and the interactive docs read it."""

from __future__ import annotations

import re
from collections import Counter

from tests.api.conftest import Api

PUBLIC_OPERATIONS = {"healthz", "readyz"}


def test_operations_have_stable_ids_and_the_bearer_scheme(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["HTTPBearer"]["description"],
    }
    operations = [operation for path in schema["paths"].values() for operation in path.values()]
    ids = Counter(operation["operationId"] for operation in operations)
    # The route functions' names: no path or method mangled into them, and each one once.
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", name) for name in ids), ids
    assert max(ids.values()) == 1
    assert ids["approve_instance"] == 1
    for operation in operations:
        assert operation.get("description"), f"{operation['operationId']} says nothing about itself"
        # The token is the security scheme, not a header parameter each operation lists.
        assert "authorization" not in {p["name"].lower() for p in operation.get("parameters", [])}
    secured = {operation["operationId"] for operation in operations if operation.get("security")}
    assert "list_instances" in secured
    assert not secured & PUBLIC_OPERATIONS


def test_a_wrong_scheme_is_told_what_to_send(api: Api) -> None:
    answer = api.client.get("/api/v1/instances", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert answer.status_code == 401
    assert "Authorization: Bearer" in answer.json()["detail"]
