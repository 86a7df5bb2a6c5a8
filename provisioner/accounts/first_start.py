"""The first operator's account, made through a one-time link that the first start prints.

The link is an invitation without an address: whoever opens it chooses their e-mail address, name and
password, and becomes an operator. It exists only while the lab has no operator account, works once,
and only the newest one printed works (each start that finds no operator replaces the one before).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from provisioner.accounts.service import claim_invitation, create_user
from provisioner.auth.actor import Role
from provisioner.auth.tokens import digest
from provisioner.errors import NotFound
from provisioner.models import Invitation, User
from provisioner.timeutil import utcnow

LIFETIME = timedelta(hours=24)
# Names the invitation's origin in the row (an actor's principal otherwise), never a person.
FIRST_START = "first-start"
GONE = "the first-start link is unknown, was used already or has expired"


def has_operator_account(session: Session) -> bool:
    found = session.scalar(select(User.id).where(User.role == Role.OPERATOR.value).limit(1))
    return found is not None


def open_first_start_link(session: Session) -> tuple[str, datetime] | None:
    """A new link's path and its end, or None when an operator account exists already."""
    if has_operator_account(session):
        return None
    now = utcnow()
    session.execute(
        update(Invitation)
        .where(Invitation.invited_by == FIRST_START, Invitation.accepted_at.is_(None))
        .values(expires_at=now)
    )
    plain = secrets.token_urlsafe(32)
    invitation = Invitation(
        email="",
        role=Role.OPERATOR.value,
        tenant_id=None,
        token_hash=digest(plain),
        invited_by=FIRST_START,
        expires_at=now + LIFETIME,
    )
    session.add(invitation)
    session.flush()
    return f"/first-start/{plain}", invitation.expires_at


def first_start_invitation(session: Session, *, token: str) -> Invitation:
    invitation = session.scalar(
        select(Invitation).where(Invitation.token_hash == digest(token), Invitation.invited_by == FIRST_START)
    )
    if invitation is None or invitation.accepted_at is not None or invitation.expires_at <= utcnow():
        raise NotFound(GONE)
    if has_operator_account(session):
        raise NotFound(GONE)
    return invitation


def claim_first_start(session: Session, *, token: str, email: str, name: str, password: str) -> User:
    """The first operator; the link is used up in the same transaction (a second sending finds it used)."""
    claim_invitation(session, first_start_invitation(session, token=token), gone=GONE)
    return create_user(session, email=email, name=name, password=password, role=Role.OPERATOR, tenant_id=None)
