"""Bodies of the accounts API: sessions, invitations, people, password resets and token listings."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.base_schemas import Input
from provisioner.auth.actor import Role
from provisioner.tenants.rules import EMAIL

# Long enough for any password a person types; the strength rules live in the domain.
PASSWORD = Field(min_length=1, max_length=1000)
ONE_TIME_TOKEN = Field(min_length=1, max_length=200)


class LoginIn(Input):
    email: str = Field(max_length=254)
    password: str = PASSWORD


class SessionOut(BaseModel):
    csrf_token: str = Field(description="send it as X-CSRF-Token with every change made through the cookie")


class TenantInvitationIn(Input):
    email: str = Field(pattern=EMAIL, max_length=254)
    role: Literal["admin", "member"]


class OperatorInvitationIn(Input):
    email: str = Field(pattern=EMAIL, max_length=254)
    role: Literal["operator"] = "operator"


class ResetLinkOut(BaseModel):
    """A one-time link: mailed to the person, or handed to the caller when no mail server is configured."""

    mailed: bool = Field(description="whether the link went to the person by mail")
    link: str | None = Field(
        default=None,
        description="the one-time link to pass on yourself, only when no mail server is configured; "
        "shown this once",
    )


class InvitationOut(ResetLinkOut):
    id: str
    email: str
    role: Role
    tenant: str | None
    created_at: datetime
    expires_at: datetime


class AcceptIn(Input):
    token: str = ONE_TIME_TOKEN
    name: str = Field(min_length=1, max_length=200)
    password: str = PASSWORD


class UserOut(BaseModel):
    id: str
    email: str
    name: str
    role: Role
    tenant: str | None
    created_at: datetime
    last_login_at: datetime | None
    disabled: bool


class UserPatchIn(Input):
    role: Literal["admin", "member"] | None = None
    disabled: bool | None = Field(default=None, description="a disabled person cannot log in; sessions end")


class ResetRequestIn(Input):
    email: str = Field(max_length=254)


class ResetConfirmIn(Input):
    token: str = ONE_TIME_TOKEN
    password: str = PASSWORD


class TokenInfo(BaseModel):
    id: str
    name: str
    role: Role
    tenant: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime


class TokenIn(Input):
    role: Literal["admin", "member"]
    name: str = Field(min_length=1, max_length=100)
    expires_in_days: int = Field(default=90, ge=1, le=365, description="the token stops working then")


class TokenOut(BaseModel):
    id: str
    name: str
    role: Role
    tenant: str | None
    expires_at: datetime
    token: str = Field(description="shown once; store it now")
