"""Web sessions of the portal: a random cookie stored as a digest, and a CSRF token per session.

A session ends after ``session_idle_minutes`` without a request, after seven days whatever happens,
on logout, when its person resets the password, and when the person is removed or disabled.
"""

from __future__ import annotations

import ipaddress
import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor, Role
from provisioner.auth.tokens import digest
from provisioner.config import Environment, Settings, get_settings
from provisioner.models import User, WebSession
from provisioner.timeutil import utcnow

SESSION_COOKIE = "provisioner_session"
ABSOLUTE_LIFETIME = timedelta(days=7)


def cookie_attributes(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for Starlette's ``Response.set_cookie`` (and ``delete_cookie``, without max_age)."""
    return {
        "httponly": True,
        "samesite": "lax",
        "secure": secure_cookies(settings),
        "path": "/",
        "max_age": int(ABSOLUTE_LIFETIME.total_seconds()),
    }


def secure_cookies(settings: Settings) -> bool:
    """Cookies go over HTTPS only, unless the portal is served over plain HTTP on this machine's loopback
    (the embedded default, http://127.0.0.1:8000): there nobody between browser and server could read
    them, and a Secure cookie would be dropped by HTTP clients and by browsers that do not count loopback
    as secure, so nobody could sign in. Anywhere else a cookie sent over plain HTTP could be read on the
    way, so it is Secure, also outside production mode, and a portal on plain HTTP beyond loopback
    cannot be signed in to at all."""
    if settings.environment is Environment.PRODUCTION:
        return True
    served_at = urlsplit(settings.public_url or f"http://{settings.api_host}:{settings.api_port}")
    return not (served_at.scheme == "http" and _is_loopback(served_at.hostname or ""))


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def start_session(
    session: Session, *, user: User, client_address: str | None, idle_minutes: int | None = None
) -> tuple[WebSession, str]:
    """A new session (never a reused one, so a planted cookie is worth nothing): (row, cookie value)."""
    if idle_minutes is None:
        idle_minutes = get_settings().session_idle_minutes
    plain = secrets.token_urlsafe(32)
    now = utcnow()
    row = WebSession(
        user_id=user.id,
        token_hash=digest(plain),
        csrf_token=secrets.token_urlsafe(32),
        client_address=(client_address or "")[:64] or None,
        idle_minutes=idle_minutes,
        created_at=now,
        last_seen_at=now,
        expires_at=now + ABSOLUTE_LIFETIME,
    )
    session.add(row)
    session.flush()
    return row, plain


def _ended(row: WebSession, now: datetime) -> bool:
    idle_end = row.last_seen_at + timedelta(minutes=row.idle_minutes)
    return now >= row.expires_at or now >= idle_end or row.user.disabled_at is not None


def _actor(row: WebSession) -> Actor:
    return Actor(role=Role(row.user.role), tenant_id=row.user.tenant_id, user_id=row.user.id)


def resolve_session(session: Session, *, cookie: str) -> tuple[Actor, WebSession] | None:
    """Who the cookie belongs to, or None when it is unknown, ended or its person is disabled."""
    row = session.scalar(select(WebSession).where(WebSession.token_hash == digest(cookie)))
    if row is None:
        return None
    now = utcnow()
    if _ended(row, now):
        session.delete(row)
        session.flush()
        return None
    row.last_seen_at = now
    return _actor(row), row


def valid_session(session: Session, *, cookie: str) -> tuple[Actor, WebSession] | None:
    """Who the cookie belongs to while its session lasts, read without changing anything."""
    row = session.scalar(select(WebSession).where(WebSession.token_hash == digest(cookie)))
    if row is None or _ended(row, utcnow()):
        return None
    return _actor(row), row


def end_session(session: Session, *, cookie: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == digest(cookie)))


def end_sessions_of(session: Session, *, user_id: str) -> None:
    session.execute(delete(WebSession).where(WebSession.user_id == user_id))
