"""People and what they may do: log in, invite, accept, reset a password, manage an association's members.

Operators invite anyone; a tenant's admins invite into and manage their own tenant; members look only.
Another tenant's person answers exactly like one that does not exist.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from provisioner.accounts import ratelimit
from provisioner.accounts.passwords import (
    check_strength,
    dummy_hash,
    hash_password,
    needs_rehash,
    verify_password,
)
from provisioner.accounts.sessions import end_sessions_of
from provisioner.auth.actor import Actor, Role
from provisioner.auth.tokens import digest, revoke_tokens_made_by
from provisioner.config import Settings
from provisioner.errors import Conflict, InvalidInput, NotFound, ServiceUnavailable, Unauthorized
from provisioner.mail import Mail, MailError, mail_enabled, send_mail
from provisioner.mail_config import mail_settings_for
from provisioner.models import Invitation, PasswordReset, Tenant, User
from provisioner.notices.channels import as_mail
from provisioner.notices.outbox import language_of_address
from provisioner.notices.render import render
from provisioner.timeutil import utcnow

log = logging.getLogger(__name__)

RESET_LIFETIME = timedelta(hours=1)
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
WRONG_LOGIN = "e-mail or password is wrong"
GONE_INVITATION = "the invitation is unknown, was used already or has expired"
GONE_RESET = "the password-reset link is unknown, was used already or has expired"


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _link(settings: Settings, path: str) -> str:
    return (settings.public_url or DEFAULT_PUBLIC_URL).rstrip("/") + path


def _user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalize_email(email)))


def authenticate_password(session: Session, *, email: str, password: str, client_address: str | None) -> User:
    """The person, after the caller has waited ``ratelimit.login_delay`` for the address."""
    ratelimit.hit(session, ratelimit.LOGIN_PER_ADDRESS, client_address or "unknown")
    user = _user_by_email(session, email)
    if user is None or user.password_hash is None or user.disabled_at is not None:
        verify_password(dummy_hash(), password)  # the answer takes as long as for a real account
        ratelimit.note(session, ratelimit.LOGIN_FAILURES_PER_EMAIL, normalize_email(email))
        raise Unauthorized(WRONG_LOGIN)
    if not verify_password(user.password_hash, password):
        ratelimit.note(session, ratelimit.LOGIN_FAILURES_PER_EMAIL, normalize_email(email))
        raise Unauthorized(WRONG_LOGIN)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    session.flush()
    return user


def create_user(
    session: Session, *, email: str, name: str, password: str | None, role: Role, tenant_id: str | None
) -> User:
    """A person, without asking who may: for invitations being accepted and the operator's bootstrap."""
    if (role is Role.OPERATOR) != (tenant_id is None):
        raise ValueError("operators have no tenant; everyone else needs one")
    email = normalize_email(email)
    if not name.strip() or len(name) > 200:
        raise InvalidInput(
            "the name needs 1 to 200 characters", errors=[{"field": "name", "message": "1 to 200 characters"}]
        )
    if _user_by_email(session, email) is not None:
        raise Conflict("a person with this e-mail address has an account already")
    password_hash = None
    if password is not None:
        check_strength(password, email=email)
        password_hash = hash_password(password)
    user = User(
        email=email, name=name.strip(), password_hash=password_hash, role=role.value, tenant_id=tenant_id
    )
    session.add(user)
    session.flush()
    return user


@dataclass(frozen=True)
class Handed:
    """What became of a one-time link: mailed, or — with no mail server configured — ``link``, for whoever
    asked to pass on themselves. Shown once, never stored in plain."""

    mailed: bool
    link: str | None


def _send(session: Session, settings: Settings, mail: Mail, *, link: str | None) -> Handed:
    """Mail through the lab's account; without one, hand the link back instead of pretending it left."""
    sender = mail_settings_for(session, settings)
    if not mail_enabled(sender):
        return Handed(mailed=False, link=link)
    try:
        send_mail(sender, mail)
    except MailError as exc:
        log.error("mail to a person could not be sent: %s", exc)
        raise ServiceUnavailable("the e-mail could not be sent; the operators can see the log") from exc
    return Handed(mailed=True, link=None)


@dataclass(frozen=True)
class Invited:
    invitation: Invitation
    handed: Handed


def invite(
    session: Session, settings: Settings, *, actor: Actor, tenant_id: str | None, email: str, role: Role
) -> Invited:
    """Invite a person by mail; without a mail server the caller gets the link to pass on."""
    if tenant_id is None:
        actor.require_operator()
        if role is not Role.OPERATOR:
            raise InvalidInput(
                "people outside an association can only be operators",
                errors=[{"field": "role", "message": "must be operator without a tenant"}],
            )
        tenant = None
    else:
        tenant = session.get(Tenant, tenant_id)
        if tenant is None or not actor.can_see_tenant(tenant_id):
            raise NotFound("tenant not found")
        actor.require_write(tenant_id, "tenant")
        if role is Role.OPERATOR:
            raise InvalidInput(
                "operators belong to the lab, not to an association",
                errors=[{"field": "role", "message": "admin or member"}],
            )
    ratelimit.hit(session, ratelimit.INVITATIONS_PER_ACTOR, actor.principal)
    email = normalize_email(email)
    existing = _user_by_email(session, email)
    if existing is not None and (actor.is_operator or existing.tenant_id == tenant_id):
        raise Conflict("a person with this e-mail address has an account already")
    plain = secrets.token_urlsafe(32)
    invitation = Invitation(
        email=email,
        role=role.value,
        tenant_id=tenant_id,
        token_hash=digest(plain),
        invited_by=actor.principal,
        expires_at=utcnow() + timedelta(hours=settings.invitation_ttl_hours),
    )
    session.add(invitation)
    session.flush()
    link = _link(settings, "/invitations/" + plain)
    values: dict[str, object] = {
        "tenant": tenant.name if tenant is not None else None,
        "role": role.value,
        "link": link,
        "hours": settings.invitation_ttl_hours,
    }
    if existing is not None:
        # An account of another association: its admin is answered as for anyone (a link too when mail is
        # off), so that it cannot learn who has an account elsewhere; by mail the person is told, and gets
        # no link (one address, one account).
        told = render("already_has_account", language=language_of_address(session, email), values=values)
        return Invited(invitation, _send(session, settings, as_mail(email, told), link=link))
    # A newcomer has no language of their own yet: the association's, else the lab's.
    language = tenant.language if tenant is not None else None
    mail = as_mail(email, render("invitation", language=language, values=values))
    return Invited(invitation, _send(session, settings, mail, link=link))


def invitation_for_token(session: Session, *, token: str) -> Invitation:
    invitation = session.scalar(select(Invitation).where(Invitation.token_hash == digest(token)))
    if invitation is None or invitation.accepted_at is not None or invitation.expires_at <= utcnow():
        raise NotFound(GONE_INVITATION)
    return invitation


def claim_invitation(session: Session, invitation: Invitation, *, gone: str) -> None:
    """Marks the invitation used; a second, concurrent acceptance of the same link finds it used."""
    claimed = session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.accepted_at.is_(None))
        .values(accepted_at=utcnow())
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise NotFound(gone)


def accept_invitation(session: Session, *, token: str, name: str, password: str) -> User:
    invitation = invitation_for_token(session, token=token)
    claim_invitation(session, invitation, gone=GONE_INVITATION)
    return create_user(
        session,
        email=invitation.email,
        name=name,
        password=password,
        role=Role(invitation.role),
        tenant_id=invitation.tenant_id,
    )


def request_password_reset(
    session: Session, settings: Settings, *, email: str, client_address: str | None
) -> None:
    """Mails a reset link if the address has an account; says nothing either way."""
    ratelimit.hit(session, ratelimit.RESET_PER_ADDRESS, client_address or "unknown")
    ratelimit.hit(session, ratelimit.RESET_PER_EMAIL, normalize_email(email))
    user = _user_by_email(session, email)
    if user is None or user.disabled_at is not None:
        return
    link = _new_reset_link(session, settings, user)
    mail = _reset_mail(session, user, link, by_admin=False)
    # Without a mail server the link goes nowhere: the requester is a stranger until proven otherwise.
    # A failure is logged, not answered: that would tell the sender that the address has an account.
    with contextlib.suppress(ServiceUnavailable):
        _send(session, settings, mail, link=None)


def _reset_mail(session: Session, user: User, link: str, *, by_admin: bool) -> Mail:
    values = {"link": link, "by_admin": by_admin}
    return as_mail(
        user.email,
        render("password_reset", language=language_of_address(session, user.email), values=values),
    )


def _new_reset_link(session: Session, settings: Settings, user: User) -> str:
    plain = secrets.token_urlsafe(32)
    session.add(
        PasswordReset(user_id=user.id, token_hash=digest(plain), expires_at=utcnow() + RESET_LIFETIME)
    )
    session.flush()
    return _link(settings, "/password-reset/" + plain)


def reset_password_for(session: Session, settings: Settings, *, actor: Actor, user_id: str) -> Handed:
    """An admin (or operator) starts a password reset for one of their people: the link is mailed to the
    person, or — with no mail server — handed to the admin to pass on."""
    user = _visible_user(session, actor, user_id)
    _require_manager(actor, user)
    if user.disabled_at is not None:
        raise Conflict("the account is disabled; enable it first")
    link = _new_reset_link(session, settings, user)
    mail = _reset_mail(session, user, link, by_admin=True)
    return _send(session, settings, mail, link=link)


def reset_password(session: Session, *, token: str, password: str) -> User:
    reset = session.scalar(select(PasswordReset).where(PasswordReset.token_hash == digest(token)))
    if reset is None or reset.used_at is not None or reset.expires_at <= utcnow():
        raise NotFound(GONE_RESET)
    user = session.get(User, reset.user_id)
    if user is None or user.disabled_at is not None:
        raise NotFound(GONE_RESET)
    check_strength(password, email=user.email)
    now = utcnow()
    # Every open link of this person ends with this one: only the newest password counts.
    session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    user.password_hash = hash_password(password)
    end_sessions_of(session, user_id=user.id)
    session.flush()
    return user


def _visible_user(session: Session, actor: Actor, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user not found")
    if user.tenant_id is None:
        if not actor.is_operator:
            raise NotFound("user not found")
    else:
        actor.require_visible(user.tenant_id, "user")
    return user


def get_user(session: Session, *, actor: Actor, user_id: str) -> User:
    return _visible_user(session, actor, user_id)


def _require_manager(actor: Actor, user: User) -> None:
    if user.tenant_id is None:
        actor.require_operator()
    else:
        actor.require_write(user.tenant_id, "user")


def _admins_left(session: Session, tenant_id: str, *, without: str) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.tenant_id == tenant_id, User.role == Role.ADMIN.value, User.id != without)
        )
        or 0
    )


def _refuse_locking_out(session: Session, actor: Actor, user: User) -> None:
    """An association's last admin may not demote or remove themselves; operators may still do it."""
    if user.id != actor.user_id or user.tenant_id is None or user.role != Role.ADMIN.value:
        return
    if not _admins_left(session, user.tenant_id, without=user.id):
        raise Conflict("the association would have no admin left; make someone else admin first")


def list_members(session: Session, *, actor: Actor, tenant_id: str) -> list[User]:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None or not actor.can_see_tenant(tenant_id):
        raise NotFound("tenant not found")
    return list(
        session.scalars(select(User).where(User.tenant_id == tenant_id).order_by(User.created_at, User.id))
    )


def list_operators(session: Session, *, actor: Actor) -> list[User]:
    actor.require_operator()
    return list(session.scalars(select(User).where(User.tenant_id.is_(None)).order_by(User.created_at)))


def set_member_role(session: Session, *, actor: Actor, user_id: str, role: Role) -> User:
    user = _visible_user(session, actor, user_id)
    _require_manager(actor, user)
    if user.tenant_id is None or role is Role.OPERATOR:
        raise Conflict("operators and members of associations do not change into each other; invite anew")
    if role is Role.MEMBER:
        _refuse_locking_out(session, actor, user)
    user.role = role.value
    session.flush()
    return user


def remove_member(session: Session, *, actor: Actor, user_id: str) -> None:
    user = _visible_user(session, actor, user_id)
    _require_manager(actor, user)
    if user.id == actor.user_id and user.tenant_id is None:
        raise Conflict("operators cannot remove themselves; ask another operator")
    _refuse_locking_out(session, actor, user)
    # Deleting the row ends the person's sessions and resets with it (foreign keys cascade).
    end_sessions_of(session, user_id=user.id)
    revoke_tokens_made_by(session, principal=user.id)
    session.delete(user)
    session.flush()


def set_disabled(session: Session, *, actor: Actor, user_id: str, disabled: bool) -> User:
    """Disabling keeps the account (and its e-mail address) but ends its sessions and refuses logins."""
    user = _visible_user(session, actor, user_id)
    _require_manager(actor, user)
    if disabled and user.id == actor.user_id:
        raise Conflict("you cannot disable your own account")
    if not disabled:
        user.disabled_at = None
    elif user.disabled_at is None:
        user.disabled_at = utcnow()
        end_sessions_of(session, user_id=user.id)
        revoke_tokens_made_by(session, principal=user.id)  # enabling again does not bring them back
    session.flush()
    return user
