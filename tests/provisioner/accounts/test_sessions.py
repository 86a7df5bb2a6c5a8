"""Web sessions on real databases: cookie stored hashed, idle and absolute ends, disabled people."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from provisioner.accounts.service import create_user, set_disabled
from provisioner.accounts.sessions import cookie_attributes, end_session, resolve_session, start_session
from provisioner.auth.actor import Role
from provisioner.config import Environment, Settings
from provisioner.models import User
from tests.support import factories
from tests.support.factories import OPERATOR


def _member(session: Session) -> User:
    tenant = factories.tenant(session)
    user = create_user(
        session, email="ben@a.example", name="Ben", password="a long enough secret", role=Role.MEMBER,
        tenant_id=tenant.id,
    )  # fmt: skip
    session.commit()
    return user


def test_a_session_resolves_to_its_person_and_ends_on_logout(session: Session) -> None:
    user = _member(session)
    row, cookie = start_session(session, user=user, client_address="192.0.2.7", idle_minutes=30)
    session.commit()
    assert cookie not in row.token_hash
    assert len(row.csrf_token) >= 32

    resolved = resolve_session(session, cookie=cookie)
    assert resolved is not None
    actor, same = resolved
    assert (actor.user_id, actor.role, actor.tenant_id, actor.principal) == (
        user.id, Role.MEMBER, user.tenant_id, user.id,
    )  # fmt: skip
    assert same.id == row.id
    assert resolve_session(session, cookie=cookie + "x") is None

    end_session(session, cookie=cookie)
    session.commit()
    assert resolve_session(session, cookie=cookie) is None


def test_every_login_gets_a_new_cookie_and_csrf_token(session: Session) -> None:
    user = _member(session)
    first, first_cookie = start_session(session, user=user, client_address=None, idle_minutes=30)
    second, second_cookie = start_session(session, user=user, client_address=None, idle_minutes=30)
    assert first_cookie != second_cookie
    assert first.csrf_token != second.csrf_token


def test_a_session_ends_after_its_idle_time_and_after_seven_days(session: Session) -> None:
    user = _member(session)
    idle, idle_cookie = start_session(session, user=user, client_address=None, idle_minutes=30)
    old, old_cookie = start_session(session, user=user, client_address=None, idle_minutes=30)
    idle.last_seen_at -= timedelta(minutes=31)
    old.expires_at = old.created_at - timedelta(seconds=1)  # as if seven days had passed
    session.commit()
    assert resolve_session(session, cookie=idle_cookie) is None
    assert resolve_session(session, cookie=old_cookie) is None


def test_activity_keeps_a_session_alive(session: Session) -> None:
    user = _member(session)
    row, cookie = start_session(session, user=user, client_address=None, idle_minutes=30)
    row.last_seen_at -= timedelta(minutes=29)
    session.commit()
    assert resolve_session(session, cookie=cookie) is not None
    session.commit()
    assert row.last_seen_at > row.created_at


def test_disabling_a_person_ends_their_sessions(session: Session) -> None:
    user = _member(session)
    _, cookie = start_session(session, user=user, client_address=None, idle_minutes=30)
    set_disabled(session, actor=OPERATOR, user_id=user.id, disabled=True)
    session.commit()
    assert resolve_session(session, cookie=cookie) is None


@pytest.mark.parametrize(
    ("settings", "secure"),
    [
        (Settings(), False),  # the embedded default, http://127.0.0.1:8000
        (Settings(public_url="http://localhost:8000"), False),
        (Settings(public_url="http://[::1]:8000"), False),
        (Settings(public_url="https://portal.lab.example"), True),
        # plain HTTP beyond loopback: the cookie could be read on the way, also outside production
        (Settings(public_url="http://portal.lab.example"), True),
        (Settings(api_host="0.0.0.0"), True),  # noqa: S104 - a setting under test, nothing listens
        (
            Settings(
                environment=Environment.PRODUCTION, secret_key="a" * 32, public_url="http://127.0.0.1:8000"
            ),
            True,
        ),
    ],
)
def test_cookies_are_secure_unless_the_portal_is_plain_http_on_loopback(
    settings: Settings, secure: bool
) -> None:
    assert cookie_attributes(settings)["secure"] is secure
    assert cookie_attributes(settings)["httponly"] is True
    assert cookie_attributes(settings)["samesite"] == "lax"
