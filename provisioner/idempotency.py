"""Idempotency keys: the first answer to a POST is kept, so a retried request gets it again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from provisioner.models import IdempotencyKey
from provisioner.timeutil import utcnow

RETENTION = timedelta(hours=24)


class KeyState(StrEnum):
    NEW = "new"  # this request owns the key now
    REPLAY = "replay"  # answered before: send that answer again
    MISMATCH = "mismatch"  # the key was used with another request
    IN_FLIGHT = "in_flight"  # the first request with this key is still being answered


@dataclass(frozen=True)
class KeyClaim:
    state: KeyState
    status_code: int | None = None
    body: bytes | None = None
    content_type: str | None = None


def claim_key(session: Session, *, scope: str, key: str, request_hash: str) -> KeyClaim:
    """Take the key for this request, or say why not. Commits: other requests must see the claim."""
    for _ in range(2):
        try:
            session.add(IdempotencyKey(scope=scope, key=key, request_hash=request_hash))
            session.commit()
            return KeyClaim(KeyState.NEW)
        except IntegrityError:
            session.rollback()
        row = session.scalar(
            select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
        )
        if row is None:
            continue  # released meanwhile: try once more
        if row.created_at < utcnow() - RETENTION:
            session.delete(row)
            session.commit()
            continue
        if row.request_hash != request_hash:
            return KeyClaim(KeyState.MISMATCH)
        if row.completed_at is None:
            return KeyClaim(KeyState.IN_FLIGHT)
        return KeyClaim(KeyState.REPLAY, row.status_code, row.body, row.content_type)
    return KeyClaim(KeyState.IN_FLIGHT)


def complete_key(
    session: Session, *, scope: str, key: str, status_code: int, body: bytes, content_type: str | None
) -> None:
    row = session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
    )
    if row is None:
        return
    row.status_code, row.body, row.content_type, row.completed_at = status_code, body, content_type, utcnow()
    session.commit()


def release_key(session: Session, *, scope: str, key: str) -> None:
    """Forget the key of a request that failed on our side, so that the client may try again."""
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key))
    session.commit()


def purge_expired(session: Session, *, now: datetime | None = None) -> int:
    cutoff = (now or utcnow()) - RETENTION
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    return int(result.rowcount)  # type: ignore[attr-defined]
