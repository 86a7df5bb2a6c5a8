"""Every error is problem+json with a field to point at; nothing echoes input or a stack trace."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import TimeoutError as PoolTimeout

from api import problems
from tests.api.conftest import Api

PROBLEM = "application/problem+json"


def test_no_token_and_a_wrong_token_are_401(api: Api) -> None:
    for headers in ({}, {"Authorization": "Bearer prv_nope"}, {"Authorization": "Basic abc"}):
        response = api.client.get("/api/v1/instances", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["www-authenticate"] == "Bearer"
        assert set(response.json()) >= {"type", "title", "status", "detail"}


def test_a_bad_body_names_each_failing_field(api: Api) -> None:
    body = {"slug": "Not A Slug", "name": "", "contact_email": "nobody", "extra": 1}
    response = api.client.post("/api/v1/tenants", json=body, headers=api.operator)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"body.slug", "body.name", "body.contact_email", "body.extra"}
    assert "Not A Slug" not in response.text


def test_parameters_outside_the_schema_are_refused_naming_the_field(api: Api) -> None:
    _, admin = api.tenant("verein-a")
    body = {"template": "homepage", "name": "site", "parameters": {"title": "x" * 500, "theme": "dark"}}
    response = api.client.post("/api/v1/instances", json=body, headers=admin)
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"body.parameters.title", "body.parameters.theme"}


def test_an_unknown_service_and_an_unknown_path_are_404_problems(api: Api) -> None:
    _, admin = api.tenant("verein-a")
    response = api.client.post(
        "/api/v1/instances", json={"template": "nope", "name": "x", "parameters": {}}, headers=admin
    )
    assert (response.status_code, response.headers["content-type"]) == (404, PROBLEM)
    response = api.client.get("/api/v1/nothing-here", headers=admin)
    assert (response.status_code, response.headers["content-type"]) == (404, PROBLEM)


def test_a_bad_cursor_is_422_naming_the_query_field(api: Api) -> None:
    response = api.client.get("/api/v1/tenants?cursor=garbage!", headers=api.operator)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "query.cursor", "message": "unknown cursor"}]


def test_a_taken_slug_and_a_taken_instance_name_are_409(api: Api) -> None:
    _, admin = api.tenant("verein-a")
    body = {"slug": "verein-a", "name": "again", "contact_email": "x@y.org"}
    assert api.client.post("/api/v1/tenants", json=body, headers=api.operator).status_code == 409
    api.homepage(admin, "site")
    body = {"template": "homepage", "name": "site", "parameters": {"title": "again"}}
    assert api.client.post("/api/v1/instances", json=body, headers=admin).status_code == 409


def test_no_free_database_connection_is_a_503_to_retry_not_a_500() -> None:
    # QueuePool raises this when every connection stays taken for its whole wait (SQLAlchemy's pooling docs).
    app = FastAPI()
    problems.install(app)

    @app.get("/busy")
    def busy() -> None:
        raise PoolTimeout("QueuePool limit of size 5 overflow 10 reached")

    response = TestClient(app, raise_server_exceptions=False).get("/busy")
    assert (response.status_code, response.headers["content-type"]) == (503, PROBLEM)
    assert response.headers["retry-after"] == "5"
    assert "QueuePool" not in response.text
