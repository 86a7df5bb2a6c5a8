"""Optional login through the lab's OpenID Connect provider: authorization code flow with PKCE.

Authlib builds the authorization URL (with the S256 code challenge) and exchanges the code; joserfc
checks the ID token against the provider's published keys. Only a verified e-mail address of an
existing, enabled account logs in: the provider says who someone is, the lab says what they may do.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2 import OAuth2Error
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from provisioner.accounts.service import normalize_email
from provisioner.auth.tokens import digest
from provisioner.config import Settings
from provisioner.errors import NotFound, ServiceUnavailable, Unauthorized
from provisioner.models import OidcLogin, User
from provisioner.timeutil import utcnow

LOGIN_LIFETIME = timedelta(minutes=10)
TIMEOUT_SECONDS = 10.0
EXPIRED = "the login through the identity provider expired or was not started in this browser; try again"
# The login's state is bound to the browser that started it (RFC 6749 section 10.12) by a cookie that
# only that browser holds: a state someone else started cannot log this browser in as them.
BINDING_COOKIE = "provisioner_oidc"
NO_ACCOUNT = "the identity provider's e-mail address has no account here, or it is not verified"


@dataclass(frozen=True)
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


def enabled(settings: Settings) -> bool:
    return bool(settings.oidc_issuer and settings.oidc_client_id)


def _get_json(url: str) -> dict[str, Any]:
    try:
        response = httpx.get(url, timeout=TIMEOUT_SECONDS)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ServiceUnavailable(f"the identity provider does not answer at {url}") from exc
    return body


def discover(settings: Settings) -> Provider:
    if not enabled(settings):
        raise NotFound("login through an identity provider is not set up here")
    issuer = settings.oidc_issuer.rstrip("/")
    meta = _get_json(issuer + "/.well-known/openid-configuration")
    if meta.get("issuer", "").rstrip("/") != issuer:
        raise ServiceUnavailable("the identity provider names another issuer than the one configured")
    return Provider(
        issuer=meta["issuer"],
        authorization_endpoint=meta["authorization_endpoint"],
        token_endpoint=meta["token_endpoint"],
        jwks_uri=meta["jwks_uri"],
    )


def _client(settings: Settings, redirect_uri: str) -> OAuth2Client:
    return OAuth2Client(
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret or None,
        scope="openid email profile",
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        timeout=TIMEOUT_SECONDS,
    )


def start_login(session: Session, settings: Settings, *, redirect_uri: str) -> tuple[str, str]:
    """Where to send the browser, and the value of its binding cookie; the state (bound to that value),
    nonce and PKCE verifier wait in the database."""
    binding = secrets.token_urlsafe(32)
    provider = discover(settings)
    verifier = secrets.token_urlsafe(64)
    nonce = secrets.token_urlsafe(32)
    with _client(settings, redirect_uri) as client:
        url, state = client.create_authorization_url(
            provider.authorization_endpoint, code_verifier=verifier, nonce=nonce
        )
    now = utcnow()
    session.execute(delete(OidcLogin).where(OidcLogin.expires_at < now))
    session.add(
        OidcLogin(
            state_hash=_bound(state, binding),
            code_verifier=verifier,
            nonce=nonce,
            expires_at=now + LOGIN_LIFETIME,
        )
    )
    session.flush()
    return str(url), binding


def _bound(state: str, binding: str) -> str:
    return digest(f"{state}\0{binding}")


def finish_login(
    session: Session, settings: Settings, *, state: str, binding: str | None, code: str, redirect_uri: str
) -> User:
    """The account of the person the provider sent back, or ``Unauthorized``; ``binding`` is the cookie
    of the browser that came back, which must be the one that started this login."""
    provider = discover(settings)
    if not binding:
        raise Unauthorized(EXPIRED)
    login = session.scalar(select(OidcLogin).where(OidcLogin.state_hash == _bound(state, binding)))
    if login is None or login.expires_at <= utcnow():
        raise Unauthorized(EXPIRED)
    session.delete(login)  # single use
    session.flush()
    try:
        with _client(settings, redirect_uri) as client:
            token = client.fetch_token(provider.token_endpoint, code=code, code_verifier=login.code_verifier)
    except (OAuth2Error, httpx.HTTPError) as exc:
        raise Unauthorized("the identity provider refused the login; try again") from exc
    claims = _verified_claims(provider, settings, str(token.get("id_token", "")), nonce=login.nonce)
    email = claims.get("email")
    if not isinstance(email, str) or claims.get("email_verified") is not True:
        raise Unauthorized(NO_ACCOUNT)
    user = session.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None or user.disabled_at is not None:
        raise Unauthorized(NO_ACCOUNT)
    user.last_login_at = utcnow()
    session.flush()
    return user


def _verified_claims(provider: Provider, settings: Settings, id_token: str, *, nonce: str) -> dict[str, Any]:
    keys = KeySet.import_key_set(_get_json(provider.jwks_uri))  # type: ignore[arg-type]
    try:
        decoded = jwt.decode(id_token, keys, algorithms=["RS256", "ES256", "PS256"])
        JWTClaimsRegistry(
            iss={"essential": True, "value": provider.issuer},
            aud={"essential": True, "value": settings.oidc_client_id},
            exp={"essential": True},
            nonce={"essential": True, "value": nonce},
        ).validate(decoded.claims)
    except (JoseError, ValueError) as exc:
        raise Unauthorized("the identity provider's answer did not check out; try again") from exc
    return dict(decoded.claims)
