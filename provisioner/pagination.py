"""Keyset pagination over (created_at, id): stable while rows are added, cheap at any depth."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from provisioner.errors import InvalidInput

MAX_LIMIT = 500


class Paginated(Protocol):
    id: Any
    created_at: Any


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next: str | None


def _encode(created_at: datetime, row_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{row_id}".encode()).decode()


def _decode(cursor: str) -> tuple[datetime, str]:
    try:
        created, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(created), row_id
    except ValueError as exc:
        raise InvalidInput(
            "the cursor is not one this API handed out",
            errors=[{"field": "query.cursor", "message": "unknown cursor"}],
        ) from exc


def paginate(
    session: Session,
    query: Select[Any],
    model: type[Any],
    *,
    limit: int,
    cursor: str | None,
    by: str = "created_at",
) -> Page[Any]:
    """``by`` names the time column the keyset follows (with the id), for rows that have no
    ``created_at``, or are listed by another moment."""
    created: InstrumentedAttribute[datetime] = getattr(model, by)
    ident: InstrumentedAttribute[str] = model.id
    if cursor:
        after_created, after_id = _decode(cursor)
        query = query.where(or_(created > after_created, and_(created == after_created, ident > after_id)))
    rows = list(session.scalars(query.order_by(created, ident).limit(limit + 1)).unique())
    if len(rows) > limit:
        last = rows[limit - 1]
        return Page(items=rows[:limit], next=_encode(getattr(last, by), last.id))
    return Page(items=rows, next=None)
