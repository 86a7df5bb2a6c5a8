"""The OpenAPI document as generated clients and the interactive docs read it."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from provisioner.auth.actor import Role
from provisioner.instances.states import InstanceState
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.spaces.states import SpaceState
from tests.api.conftest import Api

PUBLIC_OPERATIONS = {"healthz", "readyz"}
# Fields that name one of a closed set of values: a client generated from the schema gets each as an enum.
CLOSED = {"state", "status", "kind", "role", "health", "previous", "current"}
# Open on purpose: a job event's status is Ansible's event name (ok, changed, failed, ... and new ones
# an Ansible release may add); a problem's status is the HTTP code.
OPEN = {("EventOut", "status"), ("Problem", "status")}


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


def _values(schema: dict[str, Any], components: dict[str, Any]) -> list[str] | None:
    """The values a property may take, None when it takes any string."""
    if "$ref" in schema:
        return _values(components[schema["$ref"].rsplit("/", 1)[1]], components)
    if "anyOf" in schema:
        found = [_values(s, components) for s in schema["anyOf"] if s.get("type") != "null"]
        return None if None in found else [v for values in found for v in values or []]
    if "const" in schema:
        return [schema["const"]]
    enum: list[str] | None = schema.get("enum")
    return enum


def test_states_kinds_and_roles_are_enums(api: Api) -> None:
    components = api.client.get("/openapi.json").json()["components"]["schemas"]
    open_fields = {
        (name, field)
        for name, component in components.items()
        for field, schema in component.get("properties", {}).items()
        if (field in CLOSED or re.fullmatch(r"last_\w+_status", field))
        and _values(schema, components) is None
    }
    assert open_fields == OPEN

    def values(name: str, field: str) -> list[str] | None:
        return _values(components[name]["properties"][field], components)

    assert values("InstanceOut", "state") == [s.value for s in InstanceState]
    assert values("SpaceOut", "state") == [s.value for s in SpaceState]
    assert values("JobOut", "kind") == [k.value for k in JobKind]
    assert values("JobOut", "status") == [s.value for s in JobStatus]
    assert values("TokenOut", "role") == [r.value for r in Role]
    assert values("UserOut", "role") == [r.value for r in Role]
    assert values("BackupTargetOut", "kind") == ["sftp", "s3", "rest"]


def test_removals_say_they_are_refused_while_in_use(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/servers/{server_id}", "/api/v1/backup-targets/{target_id}"):
        refused = paths[path]["delete"]["responses"]["409"]
        assert refused["content"]["application/problem+json"]["schema"] == {
            "$ref": "#/components/schemas/Problem"
        }
        assert "204" in paths[path]["delete"]["responses"]
