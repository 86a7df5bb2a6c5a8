"""API tokens on real databases: a token's last use is kept to the minute, without a write per request."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from provisioner.auth.actor import Role
from provisioner.auth.tokens import LAST_USE_ACCURACY, authenticate, create_token
from provisioner.db import session_factory
from provisioner.models import ApiToken


def _last_use(db_url: str, token_id: str) -> datetime | None:
    with session_factory(db_url)() as session:
        return session.scalar(select(ApiToken.last_used_at).where(ApiToken.id == token_id))


def test_a_token_used_again_within_the_minute_is_not_written_again(db_url: str) -> None:
    with session_factory(db_url)() as session:
        row, plain = create_token(session, name="reader", role=Role.OPERATOR, tenant_id=None)
        session.commit()
        assert row.last_used_at is None
        authenticate(session, token=plain)
        session.commit()
        first = _last_use(db_url, row.id)
        assert first is not None

        authenticate(session, token=plain)
        assert not session.dirty, "a read within the minute changes nothing"
        session.commit()
        assert _last_use(db_url, row.id) == first

        row.last_used_at -= LAST_USE_ACCURACY + timedelta(seconds=1)
        session.commit()
        authenticate(session, token=plain)
        session.commit()
        again = _last_use(db_url, row.id)
        assert again is not None
        assert first is not None
        assert again > first
