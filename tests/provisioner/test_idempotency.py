from __future__ import annotations

from datetime import timedelta

from provisioner.db import session_factory
from provisioner.idempotency import KeyState, claim_key, complete_key, purge_expired, release_key
from provisioner.timeutil import utcnow


def test_a_key_is_new_then_in_flight_then_replayed(db_url: str) -> None:
    with session_factory(db_url)() as session:
        assert claim_key(session, scope="s", key="k", request_hash="h").state is KeyState.NEW
        assert claim_key(session, scope="s", key="k", request_hash="h").state is KeyState.IN_FLIGHT
        assert claim_key(session, scope="s", key="k", request_hash="other").state is KeyState.MISMATCH
        complete_key(
            session, scope="s", key="k", status_code=201, body=b"{}", content_type="application/json"
        )
        replay = claim_key(session, scope="s", key="k", request_hash="h")
        assert (replay.state, replay.status_code, replay.body) == (KeyState.REPLAY, 201, b"{}")


def test_a_released_key_can_be_used_again(db_url: str) -> None:
    with session_factory(db_url)() as session:
        claim_key(session, scope="s", key="k", request_hash="h")
        release_key(session, scope="s", key="k")
        assert claim_key(session, scope="s", key="k", request_hash="other").state is KeyState.NEW


def test_keys_are_kept_a_day_then_purged(db_url: str) -> None:
    with session_factory(db_url)() as session:
        claim_key(session, scope="s", key="k", request_hash="h")
        assert purge_expired(session, now=utcnow() + timedelta(hours=23)) == 0
        assert purge_expired(session, now=utcnow() + timedelta(hours=25)) == 1
