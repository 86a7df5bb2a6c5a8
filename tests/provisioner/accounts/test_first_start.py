"""The first operator's one-time link on real databases: once, only the newest, only while nobody operates."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from provisioner.accounts import first_start
from provisioner.accounts.service import authenticate_password, create_user
from provisioner.auth.actor import Role
from provisioner.errors import InvalidInput, NotFound
from provisioner.models import Invitation
from provisioner.timeutil import utcnow

PASSWORD = "a long enough secret"


def _token(session: Session) -> str:
    link = first_start.open_first_start_link(session)
    assert link is not None
    path, until = link
    assert until - utcnow() <= first_start.LIFETIME
    return path.removeprefix("/first-start/")


def test_the_link_makes_one_operator_and_works_once(session: Session) -> None:
    token = _token(session)
    user = first_start.claim_first_start(
        session, token=token, email="Kim@Lab.example", name="Kim", password=PASSWORD
    )
    assert (user.role, user.tenant_id, user.email) == ("operator", None, "kim@lab.example")
    assert authenticate_password(session, email="kim@lab.example", password=PASSWORD, client_address=None)
    with pytest.raises(NotFound):
        first_start.claim_first_start(
            session, token=token, email="eve@x.example", name="Eve", password=PASSWORD
        )
    assert first_start.open_first_start_link(session) is None, "no new link once an operator exists"


def test_only_the_newest_link_works(session: Session) -> None:
    older = _token(session)
    newer = _token(session)
    with pytest.raises(NotFound):
        first_start.first_start_invitation(session, token=older)
    assert first_start.first_start_invitation(session, token=newer)


def test_an_expired_link_and_an_ordinary_invitation_token_do_not_work(session: Session) -> None:
    token = _token(session)
    session.execute(update(Invitation).values(expires_at=utcnow() - timedelta(seconds=1)))
    with pytest.raises(NotFound):
        first_start.first_start_invitation(session, token=token)
    with pytest.raises(NotFound):
        first_start.first_start_invitation(session, token="not-a-token")


def test_the_link_ends_when_an_operator_is_made_another_way(session: Session) -> None:
    token = _token(session)
    create_user(
        session, email="op@lab.example", name="Op", password=PASSWORD, role=Role.OPERATOR, tenant_id=None
    )
    with pytest.raises(NotFound):
        first_start.claim_first_start(
            session, token=token, email="kim@lab.example", name="Kim", password=PASSWORD
        )


def test_a_weak_password_leaves_the_link_usable(session: Session) -> None:
    token = _token(session)
    session.commit()
    with pytest.raises(InvalidInput) as refused:
        first_start.claim_first_start(
            session, token=token, email="kim@lab.example", name="Kim", password="short"
        )
    assert refused.value.errors == [
        {"field": "password", "message": "the password needs at least 10 characters"}
    ]
    session.rollback()
    assert first_start.first_start_invitation(session, token=token)
