"""Generated requests for every operation of the OpenAPI schema, as the lab's operator and as an
association's admin, against the application on a real PostgreSQL database: no answer is a server
error, and every answer fits the schema the application publishes.

The number of examples per operation is bounded, so the whole run stays within about two minutes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.app import create_app
from provisioner.auth.actor import Role
from provisioner.auth.tokens import create_token
from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.migrate import upgrade
from tests.api.conftest import RecordingDispatcher
from tests.support import factories
from tests.support.db import fresh_postgres

EXAMPLES_PER_OPERATION = 6
# Sending a test through the mail server or webhook the fuzzer itself stored (an address that does not
# resolve) answers 503 with that server's words, as the contract says: the outside server failed, not ours.
OUTSIDE_SERVER_TESTS = {"/api/v1/settings/mail/test", "/api/v1/settings/webhook/test"}
TOKENS: dict[str, str] = {}


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory, postgres: None) -> Iterator[FastAPI]:
    with fresh_postgres() as url:
        upgrade(url)
        # Adding a server reads its host key (provisioner/servers/hostkeys.py): a generated address that
        # nobody answers costs the scan its whole timeout, 10 s by default.
        settings = Settings(
            data_dir=tmp_path_factory.mktemp("fuzz"), database_url=url, broker_url="memory://",
            ssh_connect_timeout_seconds=1,
        )  # fmt: skip
        app = create_app(settings)
        app.state.dispatcher = RecordingDispatcher()
        with session_factory(url)() as session:
            association = factories.tenant(session, "fuzz-verein")
            factories.homepage(session, association)
            _, TOKENS["operator"] = create_token(session, name="fuzz", role=Role.OPERATOR, tenant_id=None)
            _, TOKENS["tenant admin"] = create_token(
                session, name="fuzz", role=Role.ADMIN, tenant_id=association.id
            )
            session.commit()
        yield app


def _left_out(path: str) -> list[Any]:
    # The services refuse more than the schema can say (a template that does not exist, a NUL
    # character), with 422 and the field: that is not a schema-valid request rejected.
    if path in OUTSIDE_SERVER_TESTS:
        return [positive_data_acceptance, not_a_server_error]
    return [positive_data_acceptance]


def test_no_server_error_and_answers_fit_the_schema(fuzzed_app: FastAPI) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app)
    # Each call carries a real token of its own (below): a generated or negated Authorization header for
    # the bearer scheme would only be replaced, and then counted as a wrong request that was accepted.
    schema.config.generation.update(with_security_parameters=False)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def answers_well(case: schemathesis.Case) -> None:
                for token in TOKENS.values():
                    case.call_and_validate(
                        headers={"Authorization": f"Bearer {token}"},
                        excluded_checks=_left_out(case.operation.path),
                    )

            try:
                answers_well()
            except Unsatisfiable:
                # An operation without parameters or body has nothing to send wrong.
                assert mode is GenerationMode.NEGATIVE, operation.label
