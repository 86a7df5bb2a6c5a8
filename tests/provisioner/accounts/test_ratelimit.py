"""The database rate limiter, shared by every API process through the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.accounts import ratelimit
from provisioner.errors import TooManyRequests
from provisioner.models import RateLimitHit
from provisioner.timeutil import utcnow

THREE_A_MINUTE = ratelimit.Limit("test", 3, timedelta(minutes=1), "tries")


def test_the_window_fills_refuses_and_opens_again(session: Session) -> None:
    for _ in range(3):
        ratelimit.hit(session, THREE_A_MINUTE, "Anna@Verein.example")
    with pytest.raises(TooManyRequests, match="too many tries") as caught:
        ratelimit.hit(session, THREE_A_MINUTE, "anna@verein.example")
    assert 1 <= caught.value.retry_after <= 60
    ratelimit.hit(session, THREE_A_MINUTE, "ben@verein.example")  # another key has its own window

    # Once the oldest attempt has left the window there is room for exactly one more.
    oldest = session.scalars(select(RateLimitHit).order_by(RateLimitHit.created_at)).first()
    assert oldest is not None
    oldest.created_at = utcnow() - timedelta(minutes=2)
    session.commit()
    ratelimit.hit(session, THREE_A_MINUTE, "anna@verein.example")
    with pytest.raises(TooManyRequests):
        ratelimit.hit(session, THREE_A_MINUTE, "anna@verein.example")


def test_attempts_are_counted_even_when_the_callers_transaction_rolls_back(session: Session) -> None:
    for _ in range(3):
        ratelimit.hit(session, THREE_A_MINUTE, "192.0.2.1")
        session.rollback()
    with pytest.raises(TooManyRequests):
        ratelimit.hit(session, THREE_A_MINUTE, "192.0.2.1")


def test_keys_are_stored_as_digests(session: Session) -> None:
    ratelimit.hit(session, THREE_A_MINUTE, "anna@verein.example")
    session.commit()
    buckets = session.scalars(select(RateLimitHit.bucket)).all()
    assert buckets
    assert all("anna" not in bucket for bucket in buckets)
