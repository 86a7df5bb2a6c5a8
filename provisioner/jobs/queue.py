"""The unit of work at the boundary of a request, a command or a task: it commits once, then sends
every job it created, after the commit, so that a worker always finds the job's row.

``create_job`` notes each job in its session; ``commit_and_send`` is the one place they leave. A
rolled-back session forgets them. A send that fails is logged by the dispatcher and retried by the
redispatch loop, so the request has done its part once the commit went through.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session

_CREATED = "provisioner.jobs.created"


class Dispatcher(Protocol):
    def send(self, session: Session, job_id: str) -> None: ...


def note_created(session: Session, job_id: str) -> None:
    session.info.setdefault(_CREATED, []).append(job_id)


def commit_and_send(session: Session, dispatcher: Dispatcher) -> list[str]:
    """Commit the session's work, then send the jobs created in it; their ids, in creation order."""
    session.commit()
    created: list[str] = session.info.pop(_CREATED, [])
    for job_id in created:
        dispatcher.send(session, job_id)
    return created


@event.listens_for(Session, "after_soft_rollback")
def _forget_created(session: Session, previous_transaction: Any) -> None:
    # Jobs of a rolled-back transaction never existed; nothing may be sent for them. A savepoint
    # rolled back (a lost race on an alert) leaves the jobs of its enclosing transaction alone.
    if not previous_transaction.nested:
        session.info.pop(_CREATED, None)
