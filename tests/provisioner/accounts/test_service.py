"""People, invitations and password resets on real databases, with mail through a real SMTP server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.accounts import ratelimit, service
from provisioner.accounts.sessions import resolve_session, start_session
from provisioner.auth.actor import Actor, Role
from provisioner.config import Settings
from provisioner.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from provisioner.models import Invitation, User
from tests.provisioner.accounts.conftest import link_token
from tests.support import factories
from tests.support.factories import OPERATOR
from tests.support.smtp_sink import SmtpSink

PASSWORD = "a long enough secret"


def _person(session: Session, email: str, *, role: Role = Role.ADMIN, tenant_id: str | None) -> User:
    return service.create_user(
        session, email=email, name="Anna", password=PASSWORD, role=role, tenant_id=tenant_id
    )


def _actor(user: User) -> Actor:
    return Actor(role=Role(user.role), tenant_id=user.tenant_id, user_id=user.id)


def test_login_with_the_right_password_in_any_case_of_the_address(session: Session) -> None:
    user = _person(session, "Anna@Verein.example", role=Role.OPERATOR, tenant_id=None)
    assert user.email == "anna@verein.example"
    found = service.authenticate_password(
        session, email=" ANNA@verein.example", password=PASSWORD, client_address="192.0.2.1"
    )
    assert found.id == user.id
    assert found.last_login_at is not None


def test_wrong_password_and_unknown_address_get_the_same_words(session: Session) -> None:
    _person(session, "anna@verein.example", role=Role.OPERATOR, tenant_id=None)
    with pytest.raises(Unauthorized) as wrong:
        service.authenticate_password(
            session, email="anna@verein.example", password="not the password", client_address="192.0.2.1"
        )
    with pytest.raises(Unauthorized) as unknown:
        service.authenticate_password(
            session, email="nobody@verein.example", password=PASSWORD, client_address="192.0.2.1"
        )
    assert str(wrong.value) == str(unknown.value) == "e-mail or password is wrong"


def test_a_disabled_person_cannot_log_in(session: Session) -> None:
    user = _person(session, "anna@verein.example", role=Role.OPERATOR, tenant_id=None)
    service.set_disabled(session, actor=OPERATOR, user_id=user.id, disabled=True)
    with pytest.raises(Unauthorized):
        service.authenticate_password(
            session, email="anna@verein.example", password=PASSWORD, client_address="192.0.2.1"
        )


@pytest.mark.usefixtures("product_password_cost")
def test_a_hash_with_old_parameters_is_replaced_at_login(session: Session) -> None:
    user = _person(session, "anna@verein.example", role=Role.OPERATOR, tenant_id=None)
    user.password_hash = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    old = user.password_hash
    session.commit()
    service.authenticate_password(
        session, email="anna@verein.example", password=PASSWORD, client_address=None
    )
    session.commit()
    assert user.password_hash != old
    assert "m=65536" in user.password_hash


def test_failed_logins_of_an_address_add_a_doubling_wait_and_never_a_refusal(session: Session) -> None:
    _person(session, "anna@verein.example", role=Role.OPERATOR, tenant_id=None)
    session.commit()
    delays = []
    for attempt in range(8):
        delays.append(ratelimit.login_delay(session, email="Anna@verein.example"))
        with pytest.raises(Unauthorized):
            service.authenticate_password(
                session,
                email="anna@verein.example",
                password=f"wrong {attempt}",
                client_address=f"192.0.2.{attempt}",
            )
        session.rollback()  # as the API does when a request fails: the counted failures stay
    assert delays == [0, 0, 0, 0, 0, 1, 2, 4]
    user = service.authenticate_password(
        session, email="ANNA@verein.example", password=PASSWORD, client_address="192.0.2.99"
    )
    assert user.email == "anna@verein.example"
    assert ratelimit.login_delay(session, email="ben@verein.example") == 0  # each address its own


def test_an_invitation_is_mailed_accepted_once_and_the_person_can_log_in(
    session: Session, settings: Settings, sink: SmtpSink
) -> None:
    tenant = factories.tenant(session)
    invited = service.invite(
        session, settings, actor=factories.admin_of(tenant), tenant_id=tenant.id, email="Ben@Verein.example",
        role=Role.MEMBER,
    )  # fmt: skip
    session.commit()
    invitation = invited.invitation
    assert (invited.handed.mailed, invited.handed.link) == (True, None)  # a mailed link is not shown
    [mail] = sink.wait_for(1)
    assert mail["To"] == "ben@verein.example"
    token = link_token(mail, "invitations")
    assert token not in invitation.token_hash
    assert service.invitation_for_token(session, token=token).id == invitation.id

    user = service.accept_invitation(session, token=token, name="Ben", password=PASSWORD)
    session.commit()
    assert (user.role, user.tenant_id, user.email) == ("member", tenant.id, "ben@verein.example")
    with pytest.raises(NotFound) as used:
        service.accept_invitation(session, token=token, name="Mallory", password=PASSWORD)
    assert "unknown, was used already or has expired" in str(used.value)
    assert (
        service.authenticate_password(
            session, email="ben@verein.example", password=PASSWORD, client_address=None
        ).id
        == user.id
    )


def test_an_expired_or_unknown_invitation_answers_like_a_used_one(
    session: Session, settings: Settings, sink: SmtpSink
) -> None:
    service.invite(
        session, settings, actor=OPERATOR, tenant_id=None, email="op@lab.example", role=Role.OPERATOR
    )
    session.commit()
    token = link_token(sink.wait_for(1)[0], "invitations")
    row = session.scalars(select(Invitation)).one()
    row.expires_at = row.created_at - timedelta(seconds=1)
    session.commit()
    with pytest.raises(NotFound) as expired:
        service.invitation_for_token(session, token=token)
    with pytest.raises(NotFound) as unknown:
        service.invitation_for_token(session, token="made-up")
    assert str(expired.value) == str(unknown.value)


def test_accepting_checks_the_password(session: Session, settings: Settings, sink: SmtpSink) -> None:
    service.invite(
        session, settings, actor=OPERATOR, tenant_id=None, email="op@lab.example", role=Role.OPERATOR
    )
    session.commit()
    token = link_token(sink.wait_for(1)[0], "invitations")
    with pytest.raises(InvalidInput) as caught:
        service.accept_invitation(session, token=token, name="Op", password="op@lab.example")
    assert caught.value.errors == [{"field": "password", "message": str(caught.value)}]


def test_tenant_admins_invite_into_their_own_tenant_only(
    session: Session, settings: Settings, sink: SmtpSink
) -> None:
    mine, other = factories.tenant(session, "verein-a"), factories.tenant(session, "verein-b")
    admin = factories.admin_of(mine)
    with pytest.raises(NotFound):
        service.invite(
            session, settings, actor=admin, tenant_id=other.id, email="x@b.example", role=Role.ADMIN
        )
    with pytest.raises(Forbidden):
        service.invite(
            session, settings, actor=admin, tenant_id=None, email="x@b.example", role=Role.OPERATOR
        )
    with pytest.raises(InvalidInput):
        service.invite(
            session, settings, actor=admin, tenant_id=mine.id, email="x@a.example", role=Role.OPERATOR
        )
    member = Actor(role=Role.MEMBER, tenant_id=mine.id, token_id="tok_member")
    with pytest.raises(Forbidden):
        service.invite(
            session, settings, actor=member, tenant_id=mine.id, email="x@a.example", role=Role.MEMBER
        )
    assert sink.messages == []


def test_an_address_with_an_account_is_not_invited_again(session: Session, settings: Settings) -> None:
    _person(session, "anna@verein.example", role=Role.OPERATOR, tenant_id=None)
    with pytest.raises(Conflict):
        service.invite(
            session, settings, actor=OPERATOR, tenant_id=None, email="ANNA@verein.example", role=Role.OPERATOR
        )


def test_an_invitation_that_cannot_be_mailed_is_not_kept(session: Session) -> None:
    unreachable = Settings(smtp_host="127.0.0.1", smtp_port=1)
    with pytest.raises(Exception, match="could not be sent") as caught:
        service.invite(
            session, unreachable, actor=OPERATOR, tenant_id=None, email="op@lab.example", role=Role.OPERATOR
        )
    assert "127.0.0.1" not in str(caught.value)
    session.rollback()
    assert session.scalars(select(Invitation)).all() == []


def test_a_password_reset_sets_the_password_and_ends_every_session(
    session: Session, settings: Settings, sink: SmtpSink
) -> None:
    user = _person(session, "anna@verein.example", role=Role.OPERATOR, tenant_id=None)
    _, cookie = start_session(session, user=user, client_address="192.0.2.1", idle_minutes=60)
    session.commit()

    service.request_password_reset(session, settings, email="Anna@verein.example", client_address="192.0.2.1")
    service.request_password_reset(
        session, settings, email="nobody@verein.example", client_address="192.0.2.1"
    )
    session.commit()
    [mail] = sink.wait_for(1)
    assert mail["To"] == "anna@verein.example"
    token = link_token(mail, "password-reset")

    service.reset_password(session, token=token, password="another long secret")
    session.commit()
    assert resolve_session(session, cookie=cookie) is None
    with pytest.raises(Unauthorized):
        service.authenticate_password(
            session, email="anna@verein.example", password=PASSWORD, client_address=None
        )
    service.authenticate_password(
        session, email="anna@verein.example", password="another long secret", client_address=None
    )
    with pytest.raises(NotFound):
        service.reset_password(session, token=token, password="a third long secret")
    assert len(sink.messages) == 1


def test_members_are_listed_changed_and_removed_within_their_tenant_only(session: Session) -> None:
    mine, other = factories.tenant(session, "verein-a"), factories.tenant(session, "verein-b")
    anna = _person(session, "anna@a.example", role=Role.ADMIN, tenant_id=mine.id)
    ben = _person(session, "ben@a.example", role=Role.MEMBER, tenant_id=mine.id)
    carla = _person(session, "carla@b.example", role=Role.ADMIN, tenant_id=other.id)
    admin = _actor(anna)

    assert [u.id for u in service.list_members(session, actor=admin, tenant_id=mine.id)] == [anna.id, ben.id]
    with pytest.raises(NotFound):
        service.list_members(session, actor=admin, tenant_id=other.id)
    for call in (
        lambda: service.set_member_role(session, actor=admin, user_id=carla.id, role=Role.MEMBER),
        lambda: service.remove_member(session, actor=admin, user_id=carla.id),
        lambda: service.set_member_role(session, actor=admin, user_id="usr_unknown", role=Role.MEMBER),
    ):
        with pytest.raises(NotFound, match="user not found"):
            call()
    with pytest.raises(Forbidden):
        service.set_member_role(session, actor=_actor(ben), user_id=ben.id, role=Role.ADMIN)
    with pytest.raises(Conflict, match="no admin left"):
        service.set_member_role(session, actor=admin, user_id=anna.id, role=Role.MEMBER)
    with pytest.raises(Conflict, match="no admin left"):
        service.remove_member(session, actor=admin, user_id=anna.id)

    assert service.set_member_role(session, actor=admin, user_id=ben.id, role=Role.ADMIN).role == "admin"
    _, cookie = start_session(session, user=ben, client_address=None, idle_minutes=60)
    service.remove_member(session, actor=admin, user_id=ben.id)
    session.commit()
    assert resolve_session(session, cookie=cookie) is None
    assert [u.id for u in service.list_members(session, actor=OPERATOR, tenant_id=mine.id)] == [anna.id]
