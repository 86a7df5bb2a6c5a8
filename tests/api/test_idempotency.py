"""The idempotency middleware on its own, driven as an ASGI server drives it."""

from __future__ import annotations

import anyio
import httpx
from sqlalchemy import select
from starlette.types import Message, Receive, Scope, Send

from api.idempotency import IdempotencyMiddleware
from provisioner.auth.actor import Role
from provisioner.auth.tokens import create_token
from provisioner.db import session_factory
from provisioner.models import ApiToken, IdempotencyKey
from tests.api.conftest import Api


def test_the_answer_is_kept_before_the_client_has_all_of_it(db_url: str) -> None:
    """A client may repeat the request the moment it has the answer; the repeat must be a replay."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send(
            {
                "type": "http.response.start",
                "status": 201,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"id": ', "more_body": True})
        await send({"type": "http.response.body", "body": b"1}"})

    kept_when_complete: list[bool] = []

    async def client_side(message: Message) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            with session_factory(db_url)() as session:
                row = session.scalars(select(IdempotencyKey)).one()
                kept_when_complete.append(row.completed_at is not None and row.body == b'{"id": 1}')

    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    with session_factory(db_url)() as session:
        _, plain = create_token(session, name="script", role=Role.OPERATOR, tenant_id=None)
        session.commit()
    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/instances",
        "query_string": b"",
        "headers": [(b"idempotency-key", b"key-1"), (b"authorization", f"Bearer {plain}".encode())],
    }
    anyio.run(IdempotencyMiddleware(app, database_url=db_url), scope, receive, client_side)
    assert kept_when_complete == [True]


def _mint(api: Api, tenant_id: str, headers: dict[str, str]) -> httpx.Response:
    return api.client.post(
        f"/api/v1/tenants/{tenant_id}/tokens",
        json={"role": "member", "name": "cron"},
        headers={**headers, "Idempotency-Key": "mint-1"},
    )


def test_a_revoked_token_gets_no_replay_of_its_earlier_answer(api: Api) -> None:
    tenant_id, _ = api.tenant("verein-a")
    operator_id, operator = _operator_token(api)
    assert _mint(api, tenant_id, operator).status_code == 201
    assert api.client.delete(f"/api/v1/tokens/{operator_id}", headers=api.operator).status_code == 204
    again = _mint(api, tenant_id, operator)
    assert again.status_code == 401
    assert "idempotent-replayed" not in again.headers


def test_a_minted_token_is_not_kept_in_the_stored_answer_and_its_repeat_mints_none(api: Api) -> None:
    tenant_id, _ = api.tenant("verein-a")
    _, operator = _operator_token(api)
    first = _mint(api, tenant_id, operator)
    assert first.status_code == 201
    assert first.headers["cache-control"] == "no-store"
    with session_factory(api.db_url)() as session:
        stored = session.scalars(select(IdempotencyKey)).all()
        tokens_before = len(session.scalars(select(ApiToken)).all())
    assert stored, "the key is kept, so that a repeat mints no second token"
    assert all(first.json()["token"].encode() not in (row.body or b"") for row in stored)
    repeat = _mint(api, tenant_id, operator)
    assert repeat.status_code == 409
    assert repeat.headers["content-type"] == "application/problem+json"
    assert "shown only once" in repeat.json()["detail"]
    with session_factory(api.db_url)() as session:
        assert len(session.scalars(select(ApiToken)).all()) == tokens_before


def test_keys_belong_to_the_principal_not_to_the_secret_it_sent(api: Api) -> None:
    tenant_id, _ = api.tenant("verein-a")
    operator_id, operator = _operator_token(api)
    _mint(api, tenant_id, operator)
    with session_factory(api.db_url)() as session:
        assert {row.scope for row in session.scalars(select(IdempotencyKey))} == {operator_id}
    # another principal's same key is its own
    _, other = _operator_token(api)
    assert "idempotent-replayed" not in _mint(api, tenant_id, other).headers


def _operator_token(api: Api) -> tuple[str, dict[str, str]]:
    with session_factory(api.db_url)() as session:
        row, plain = create_token(session, name="script", role=Role.OPERATOR, tenant_id=None)
        session.commit()
        return row.id, {"Authorization": f"Bearer {plain}"}
