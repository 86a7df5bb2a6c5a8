"""What happened, as notices: the domain services and ``finish_job`` call these in their transaction.

Values name rows by id; the worker reads names, addresses and first steps when it writes the mail, so a
notice never carries a secret and always shows the service's address as it is when sent.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.models import Instance, Job
from provisioner.notices.outbox import NoticeKind, queue_for_admins, queue_for_operators

FAILED = frozenset({"failed", "timed_out"})


def request_waiting(session: Session, *, instance: Instance) -> None:
    queue_for_operators(session, kind=NoticeKind.REQUEST_WAITING, values={"instance_id": instance.id})


def request_approved(session: Session, *, instance: Instance) -> None:
    queue_for_admins(
        session,
        tenant_id=instance.tenant_id,
        kind=NoticeKind.REQUEST_APPROVED,
        values={"instance_id": instance.id},
    )


def request_rejected(session: Session, *, instance: Instance) -> None:
    queue_for_admins(
        session,
        tenant_id=instance.tenant_id,
        kind=NoticeKind.REQUEST_REJECTED,
        values={"instance_id": instance.id},
    )


def _first_good_deploy(session: Session, job: Job) -> bool:
    earlier = session.scalar(
        select(Job.id).where(
            Job.instance_id == job.instance_id,
            Job.kind.in_(("deploy", "restore")),
            Job.status == "succeeded",
            Job.id != job.id,
        )
    )
    return earlier is None


def job_finished(session: Session, *, job: Job) -> None:
    """The one place a job's outcome turns into notices (called as the outcome is written)."""
    if job.instance_id is None:
        # A server's own job (its bootstrap): only the operators hear of it, and only when it failed,
        # since whoever started it may have left its page long before it ended.
        if job.status in FAILED:
            queue_for_operators(
                session,
                kind=NoticeKind.SERVER_BOOTSTRAP_FAILED,
                values={"server_id": job.target_server_id, "job_id": job.id},
            )
        return
    values = {"instance_id": job.instance_id, "job_id": job.id}
    tenant_id = session.get_one(Instance, job.instance_id).tenant_id
    if job.status in FAILED:
        queue_for_operators(session, kind=NoticeKind.JOB_FAILED, values=values)
        if job.kind == "update":
            queue_for_admins(session, tenant_id=tenant_id, kind=NoticeKind.UPDATE_FAILED, values=values)
        return
    if job.status != "succeeded":
        return
    if job.kind in ("deploy", "restore") and _first_good_deploy(session, job):
        queue_for_admins(session, tenant_id=tenant_id, kind=NoticeKind.SERVICE_READY, values=values)
    elif job.kind == "update":
        queue_for_admins(session, tenant_id=tenant_id, kind=NoticeKind.UPDATE_APPLIED, values=values)
