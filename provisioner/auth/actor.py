"""Who is asking, and the checks every service function makes against the resource it touches."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from provisioner.errors import Forbidden, NotFound


class Role(StrEnum):
    OPERATOR = "operator"
    ADMIN = "admin"
    MEMBER = "member"


@dataclass(frozen=True)
class Actor:
    role: Role
    tenant_id: str | None  # None only for operators
    # Exactly one of these says who it is: an API token, or a person logged in through the portal.
    token_id: str | None = None
    user_id: str | None = None

    @property
    def principal(self) -> str:
        """What jobs and audit records name as the one who asked ("tok_...", "usr_..." or "system")."""
        principal = self.token_id or self.user_id
        if principal is None:
            raise ValueError("an actor needs a token or a user")
        return principal

    @property
    def is_operator(self) -> bool:
        return self.role is Role.OPERATOR

    def require_operator(self) -> None:
        if not self.is_operator:
            raise Forbidden("only operators of the lab may do this")

    def can_see_tenant(self, tenant_id: str) -> bool:
        return self.is_operator or self.tenant_id == tenant_id

    def require_visible(self, tenant_id: str, what: str) -> None:
        # Another tenant's resource answers exactly like one that does not exist.
        if not self.can_see_tenant(tenant_id):
            raise NotFound(f"{what} not found")

    def require_write(self, tenant_id: str, what: str) -> None:
        self.require_visible(tenant_id, what)
        if self.role is Role.MEMBER:
            raise Forbidden("members of an association may look, but only its admins may change things")


# What scheduled work (backups, drills, updates, health sweeps) acts as: the lab itself, with an
# operator's reach, recorded as "system" wherever a job or an audit entry names who asked.
SYSTEM_ACTOR = Actor(token_id="system", role=Role.OPERATOR, tenant_id=None)  # noqa: S106 - a name, not a secret
