"""Bodies of the settings endpoints. Passwords and webhook secrets are write-only: an answer says only
whether one is set, and a ``SecretStr`` keeps them out of every repr and log line."""

from __future__ import annotations

from enum import StrEnum
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator

from api.base_schemas import Input
from api.servers.schemas import HOST
from provisioner.tenants.rules import EMAIL


class Source(StrEnum):
    """Where the setting in force comes from: stored through the API, portal or CLI, the machine's
    environment (``PROVISIONER_SMTP_*``, ``PROVISIONER_ALERT_WEBHOOK_*``), or nowhere."""

    STORED = "stored"
    ENVIRONMENT = "environment"
    NONE = "none"


class MailIn(Input):
    host: str = Field(pattern=HOST, max_length=253)
    port: int = Field(ge=1, le=65535)
    starttls: bool = True
    # Empty when the mail server needs no login.
    username: str = Field(default="", max_length=254)
    # Write-only. Left out (or null): the stored password is kept while the username is; empty: none.
    password: SecretStr | None = Field(default=None, max_length=1000)
    from_address: str = Field(pattern=EMAIL, max_length=254)


class MailOut(BaseModel):
    configured: bool
    source: Source
    host: str
    port: int
    starttls: bool
    username: str
    from_address: str
    password_set: bool


class MailTestIn(Input):
    to: str = Field(pattern=EMAIL, max_length=254)
    language: str = Field(default="de", pattern="^(de|en)$")


class WebhookIn(Input):
    # Write-only as a whole: a chat's incoming-webhook path is its credential.
    url: SecretStr = Field(min_length=1, max_length=2000)
    # Write-only. Left out (or null): the stored secret is kept; empty: requests go unsigned.
    secret: SecretStr | None = Field(default=None, max_length=1000)

    @field_validator("url")
    @classmethod
    def _http(cls, url: SecretStr) -> SecretStr:
        value = url.get_secret_value()
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
            raise ValueError("an http:// or https:// address")
        return url


class WebhookOut(BaseModel):
    configured: bool
    source: Source
    # Scheme and host only, as the portal shows it.
    shown_url: str | None
    secret_set: bool


class WebhookTestIn(Input):
    language: str = Field(default="de", pattern="^(de|en)$")
