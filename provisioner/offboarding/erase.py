"""The database side of an offboarding: every row that belongs to the association, deleted in the
order the foreign keys need, explicitly (SQLite enforces no ``ON DELETE CASCADE`` unless told to).

Two parts, since the backups may outlive the rest for the retention the lab sets: the people (their
accounts, sessions, invitations, tokens, queued mail, stored replies) go with the services; the
services' rows, their backups' rows, the repositories' and the tenant's own row go last, once the
repositories on the targets are deleted. The audit log is not touched: it is append-only (a
trigger refuses changes) and names ids, not people (docs/offboarding.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from provisioner.models import (
    Alert,
    AlertDelivery,
    ApiToken,
    Backup,
    BackupRepository,
    BackupRestore,
    DrillResult,
    Export,
    HealthEvent,
    IdempotencyKey,
    Instance,
    InstanceMetric,
    InstanceSecret,
    Invitation,
    Job,
    JobEvent,
    OutgoingNotice,
    PasswordReset,
    PortAllocation,
    Schedule,
    Space,
    Tenant,
    User,
    WebSession,
)


def erase_people(session: Session, *, tenant_id: str) -> dict[str, int]:
    """Accounts (a person belongs to one association: ``users.tenant_id``), their sessions and
    password resets, the association's invitations and tokens, replies kept for their idempotency
    keys, and mail to them. Returns how many accounts, invitations and tokens were deleted."""
    users = session.execute(select(User.id, User.email).where(User.tenant_id == tenant_id)).all()
    user_ids = [u.id for u in users]
    token_ids = list(session.scalars(select(ApiToken.id).where(ApiToken.tenant_id == tenant_id)))
    addresses = [u.email for u in users]
    invited = list(session.scalars(select(Invitation.email).where(Invitation.tenant_id == tenant_id)))
    invitations = len(invited)
    addresses += invited
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.scope.in_(user_ids + token_ids)))
    session.execute(delete(WebSession).where(WebSession.user_id.in_(user_ids)))
    session.execute(delete(PasswordReset).where(PasswordReset.user_id.in_(user_ids)))
    session.execute(delete(OutgoingNotice).where(OutgoingNotice.recipient.in_(addresses)))
    session.execute(delete(Invitation).where(Invitation.tenant_id == tenant_id))
    session.execute(
        delete(ApiToken).where(or_(ApiToken.tenant_id == tenant_id, ApiToken.created_by.in_(user_ids)))
    )
    session.execute(delete(User).where(User.tenant_id == tenant_id))
    return {"accounts": len(user_ids), "invitations": invitations, "tokens": len(token_ids)}


def erase_exports(session: Session, *, tenant_id: str) -> None:
    session.execute(delete(Export).where(Export.tenant_id == tenant_id))


def erase_rest(session: Session, *, tenant_id: str) -> None:
    """Everything left: the services' and spaces' rows with their jobs and history (and the
    association's own jobs), the backups' and
    the repositories' rows, the alerts, and the tenant's row."""
    instance_ids = list(session.scalars(select(Instance.id).where(Instance.tenant_id == tenant_id)))
    space_ids = list(session.scalars(select(Space.id).where(Space.tenant_id == tenant_id)))
    job_ids = list(
        session.scalars(
            select(Job.id).where(
                or_(
                    Job.instance_id.in_(instance_ids), Job.space_id.in_(space_ids), Job.tenant_id == tenant_id
                )
            )
        )
    )
    backup_ids = list(session.scalars(select(Backup.id).where(Backup.instance_id.in_(instance_ids))))
    _alerts(session, tenant_id=tenant_id, subjects=[*instance_ids, *space_ids])
    _notices(session, instance_ids=instance_ids)
    session.execute(
        delete(BackupRestore).where(
            or_(BackupRestore.job_id.in_(job_ids), BackupRestore.backup_id.in_(backup_ids))
        )
    )
    session.execute(delete(DrillResult).where(DrillResult.instance_id.in_(instance_ids)))
    session.execute(delete(Export).where(Export.tenant_id == tenant_id))
    session.execute(delete(Backup).where(Backup.id.in_(backup_ids)))
    session.execute(delete(JobEvent).where(JobEvent.job_id.in_(job_ids)))
    session.execute(delete(Job).where(Job.id.in_(job_ids)))
    session.execute(delete(Space).where(Space.id.in_(space_ids)))
    for table in (InstanceSecret, PortAllocation, Schedule, HealthEvent, InstanceMetric):
        session.execute(delete(table).where(table.instance_id.in_(instance_ids)))
    session.execute(delete(Instance).where(Instance.id.in_(instance_ids)))
    session.execute(delete(BackupRepository).where(BackupRepository.tenant_id == tenant_id))
    session.execute(delete(Tenant).where(Tenant.id == tenant_id))


def _alerts(session: Session, *, tenant_id: str, subjects: Sequence[str]) -> None:
    alert_ids = select(Alert.id).where(or_(Alert.tenant_id == tenant_id, Alert.subject_id.in_(subjects)))
    session.execute(delete(AlertDelivery).where(AlertDelivery.alert_id.in_(alert_ids)))
    session.execute(delete(Alert).where(Alert.tenant_id == tenant_id))
    session.execute(delete(Alert).where(Alert.subject_id.in_(subjects)))


def _notices(session: Session, *, instance_ids: Sequence[str]) -> None:
    """Notices (sent or not) that tell of the association's services: their values name them by id."""
    named = set(instance_ids)
    rows = session.execute(select(OutgoingNotice.id, OutgoingNotice.values)).all()
    gone = [row.id for row in rows if (row.values or {}).get("instance_id") in named]
    session.execute(delete(OutgoingNotice).where(OutgoingNotice.id.in_(gone)))
