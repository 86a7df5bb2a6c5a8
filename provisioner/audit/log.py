"""Writing and reading audit entries. Rows are only ever added; the database refuses changes to them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor, Role
from provisioner.errors import Forbidden
from provisioner.models import ApiToken, AuditEntry, Instance, Job, Space, Tenant, User
from provisioner.pagination import Page, paginate

CLI_ACTOR = "cli"
ANONYMOUS = "anonymous"
SUCCESS = "success"


@dataclass(frozen=True)
class Action:
    actor: str
    action: str
    tenant_id: str | None = None
    target_id: str | None = None
    client_address: str | None = None
    status_code: int | None = None
    outcome: str = SUCCESS


# The query for the tenant that owns a target, by the prefix of the target's id.
_OWNER: dict[str, Callable[[str], Select[Any]]] = {
    "ten": lambda i: select(Tenant.id).where(Tenant.id == i),
    "ins": lambda i: select(Instance.tenant_id).where(Instance.id == i),
    # A space's job belongs to the space's association, not to the lab that owns the shared instance.
    "job": lambda i: (
        select(func.coalesce(Space.tenant_id, Instance.tenant_id))
        .select_from(Job)
        .join(Instance, Job.instance_id == Instance.id)
        .outerjoin(Space, Job.space_id == Space.id)
        .where(Job.id == i)
    ),
    "spc": lambda i: select(Space.tenant_id).where(Space.id == i),
    "usr": lambda i: select(User.tenant_id).where(User.id == i),
    "tok": lambda i: select(ApiToken.tenant_id).where(ApiToken.id == i),
}


def tenant_of(session: Session, target_id: str | None) -> str | None:
    """The tenant a target belongs to, found from its id's prefix; None for lab-wide things."""
    query = _OWNER.get(target_id.partition("_")[0]) if target_id else None
    if query is None or target_id is None:
        return None
    owner: str | None = session.scalar(query(target_id))
    return owner


def record(session: Session, action: Action) -> AuditEntry:
    entry = AuditEntry(
        actor=action.actor[:64],
        tenant_id=action.tenant_id,
        action=action.action[:100],
        target_id=action.target_id[:64] if action.target_id else None,
        client_address=action.client_address[:64] if action.client_address else None,
        status_code=action.status_code,
        outcome=action.outcome[:200],
    )
    session.add(entry)
    session.flush()
    return entry


def record_cli(session: Session, action: str, *, target_id: str | None = None) -> AuditEntry:
    """An operator's command on the control plane's machine."""
    return record(
        session,
        Action(actor=CLI_ACTOR, action=action, target_id=target_id, tenant_id=tenant_of(session, target_id)),
    )


def _visible(actor: Actor, tenant_id: str | None) -> Select[AuditEntry]:
    """Operators read everything; a tenant's admin reads its own tenant's entries; members nothing."""
    query = select(AuditEntry)
    if actor.is_operator:
        return query if tenant_id is None else query.where(AuditEntry.tenant_id == tenant_id)
    if actor.role is not Role.ADMIN:
        raise Forbidden("only the association's admins may read its audit log")
    return query.where(AuditEntry.tenant_id == actor.tenant_id)


def list_entries(
    session: Session, *, actor: Actor, tenant_id: str | None, limit: int, cursor: str | None
) -> Page[AuditEntry]:
    return paginate(session, _visible(actor, tenant_id), AuditEntry, limit=limit, cursor=cursor)


def export_query(actor: Actor, tenant_id: str | None) -> Select[AuditEntry]:
    """Every entry ``actor`` may read, oldest first, fetched in batches: an export may be long."""
    query = _visible(actor, tenant_id).order_by(AuditEntry.created_at, AuditEntry.id)
    return query.execution_options(yield_per=500)
