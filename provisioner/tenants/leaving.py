"""An association being offboarded takes nothing new: no request, export, approval or token.

Checked where each of those starts, after the tenant's row is held (``hold_tenant``) where the path
holds it, so a request and an offboarding at the same moment do not both go through.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.errors import Conflict
from provisioner.models import ACTIVE_OFFBOARDING_STATES, Offboarding


class TenantLeaving(Conflict):
    title = "The association is being offboarded"


def active_offboarding(session: Session, *, tenant_id: str) -> Offboarding | None:
    query = select(Offboarding).where(
        Offboarding.tenant_id == tenant_id, Offboarding.state.in_(ACTIVE_OFFBOARDING_STATES)
    )
    return session.scalar(query)


def refuse_while_leaving(session: Session, *, tenant_id: str, what: str) -> None:
    """``what`` is what was asked for ("a new service", "an export"), named in the answer."""
    leaving = active_offboarding(session, tenant_id=tenant_id)
    if leaving is None:
        return
    if leaving.state == "waiting":
        when = f"its data is deleted from {leaving.not_before:%Y-%m-%d %H:%M} UTC unless it is canceled"
    else:
        when = "its services and data are being deleted"
    raise TenantLeaving(
        f"{what} is not possible: the association {leaving.tenant_slug} is being offboarded ({when})"
    )
