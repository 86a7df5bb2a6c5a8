"""A sliding-window rate limiter kept in the database.

Why our own and in the database: the API may run as several processes (and in embedded mode as one,
without Redis), and all of them share only the database; in-memory limiters (slowapi's default) would
count per process, and the Redis-backed ones would not work in embedded mode. Each attempt is a row;
counting the rows of a bucket in the window is one indexed query. The count is written in its own
transaction, so an attempt counts even when the request that made it fails (a wrong password).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from provisioner.errors import TooManyRequests
from provisioner.models import RateLimitHit
from provisioner.timeutil import utcnow

# Rows older than the longest window are of no use to any bucket.
_KEEP = timedelta(days=1)


@dataclass(frozen=True)
class Limit:
    name: str
    count: int
    window: timedelta
    what: str  # for the message: "login attempts", ...


# Failed logins for one address slow its next logins down (doubling waits) instead of refusing them:
# a refusal would lock the owner out as long as someone else keeps trying their address.
LOGIN_FAILURES_PER_EMAIL = Limit(
    "login-failed", 5, timedelta(minutes=15), "failed logins for this e-mail address"
)
MAX_LOGIN_DELAY_SECONDS = 16.0
# Higher: several people of an association may log in from one address behind NAT.
LOGIN_PER_ADDRESS = Limit("login-address", 20, timedelta(minutes=1), "login attempts from your address")
RESET_PER_EMAIL = Limit("reset-email", 3, timedelta(hours=1), "password resets for this e-mail address")
RESET_PER_ADDRESS = Limit("reset-address", 10, timedelta(hours=1), "password resets from your address")
INVITATIONS_PER_ACTOR = Limit("invite", 30, timedelta(hours=1), "invitations")
TOKENS_PER_ACTOR = Limit("token", 30, timedelta(hours=1), "new tokens")


def hit(session: Session, limit: Limit, key: str) -> None:
    """Count one attempt for ``key``; raise ``TooManyRequests`` instead when the window is full.

    Refused attempts are not counted, so a client that waits ``retry_after`` seconds gets through.
    """
    _in_own_transaction(session, lambda own: _count(own, limit, _bucket(limit, key), utcnow()))


def note(session: Session, limit: Limit, key: str) -> None:
    """Count one event for ``key`` (a failed login), whatever becomes of the request."""
    bucket = _bucket(limit, key)
    _in_own_transaction(session, lambda own: own.add(RateLimitHit(bucket=bucket, created_at=utcnow())))


def recent(session: Session, limit: Limit, key: str) -> int:
    """How many events ``key`` had in the limit's window."""
    since = utcnow() - limit.window
    return len(
        session.scalars(
            select(RateLimitHit.id).where(
                RateLimitHit.bucket == _bucket(limit, key), RateLimitHit.created_at > since
            )
        ).all()
    )


def login_delay(session: Session, *, email: str) -> float:
    """Seconds to wait before this address's password is checked: none for the first few failures of the
    window, then doubling up to a bound, for the owner as for anyone."""
    over = recent(session, LOGIN_FAILURES_PER_EMAIL, email) - LOGIN_FAILURES_PER_EMAIL.count
    return 0.0 if over < 0 else min(MAX_LOGIN_DELAY_SECONDS, 2.0**over)


def _bucket(limit: Limit, key: str) -> str:
    # A digest keeps e-mail addresses out of this table and bounds the bucket's length.
    return f"{limit.name}:{hashlib.sha256(key.strip().lower().encode()).hexdigest()[:64]}"


def _in_own_transaction(session: Session, write: Callable[[Session], None]) -> None:
    if _holds_sqlite_write_lock(session):
        # SQLite has one writer: a second connection would wait for this one. Count in the caller's
        # transaction then (the attempt counts if it commits). Requests call this before they write.
        write(session)
        session.flush()
        return
    with Session(bind=session.get_bind()) as own:
        try:
            write(own)
        finally:
            own.commit()  # the pruning, and the attempt unless it was refused


def _holds_sqlite_write_lock(session: Session) -> bool:
    if session.get_bind().dialect.name != "sqlite" or not session.in_transaction():
        return False
    return bool(session.connection().connection.dbapi_connection.in_transaction)  # type: ignore[union-attr]


def _count(session: Session, limit: Limit, bucket: str, now: datetime) -> None:
    session.execute(delete(RateLimitHit).where(RateLimitHit.created_at < now - _KEEP))
    times = session.scalars(
        select(RateLimitHit.created_at)
        .where(RateLimitHit.bucket == bucket, RateLimitHit.created_at > now - limit.window)
        .order_by(RateLimitHit.created_at)
    ).all()
    if len(times) >= limit.count:
        # The window has room again once enough of the counted attempts have left it.
        frees_at = times[len(times) - limit.count] + limit.window
        retry_after = max(1, math.ceil((frees_at - now).total_seconds()))
        raise TooManyRequests(
            f"too many {limit.what}; try again in {retry_after} seconds", retry_after=retry_after
        )
    session.add(RateLimitHit(bucket=bucket, created_at=now))
    session.flush()
