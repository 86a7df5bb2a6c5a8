"""The credentials a request carries, checked without changing anything: for work that must know who
asks before (or long after) the route itself authenticates, such as replaying an answer or a stream."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from sqlalchemy.orm import Session
from starlette.datastructures import Headers
from starlette.requests import cookie_parser

from provisioner.accounts.sessions import SESSION_COOKIE, valid_session
from provisioner.auth.actor import Actor
from provisioner.auth.tokens import actor_of, valid_token


@dataclass(frozen=True)
class Presented:
    bearer: str | None
    cookie: str | None
    csrf: str | None

    @classmethod
    def of(cls, headers: Headers) -> Presented:
        _, _, token = (headers.get("authorization") or "").partition(" ")
        if token.strip():
            return cls(bearer=token.strip(), cookie=None, csrf=None)
        cookie = cookie_parser(headers.get("cookie", "")).get(SESSION_COOKIE)
        return cls(bearer=None, cookie=cookie, csrf=headers.get("x-csrf-token"))

    def actor(self, session: Session, *, change: bool = False) -> Actor | None:
        """Who these credentials stand for now; a change through the cookie needs its CSRF token too."""
        if self.bearer is not None:
            row = valid_token(session, token=self.bearer)
            return None if row is None else actor_of(row)
        if self.cookie is None:
            return None
        found = valid_session(session, cookie=self.cookie)
        if found is None:
            return None
        actor, web_session = found
        if change and not (
            self.csrf and hmac.compare_digest(self.csrf.encode(), web_session.csrf_token.encode())
        ):
            return None
        return actor
